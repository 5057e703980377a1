"""What people use: the jobs, the label store, the report and cases, the command line."""
