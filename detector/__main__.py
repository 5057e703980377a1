from detector.app.cli import main

main()
