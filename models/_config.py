"""Every knob of training and scoring, in one place, with sensible defaults."""

from dataclasses import asdict, dataclass, field

__all__ = ["ModelConfig"]


@dataclass(frozen=True)
class ModelConfig:
    """Hyperparameters and policies of a fraud model.

    Features: ``min_peer_count`` (smallest trusted peer group), ``de_minimis`` (value
    under which goods pass duty-free), ``smoothing`` (pseudo-inspections behind an
    entity's fraud rate). Classifier: ``estimator`` (``hgb`` or ``forest``) and its
    settings; ``n_models`` gradient boosting models, each early-stopped on a different
    random tenth of the labelled rows, are averaged; beyond ``max_labelled_rows``
    labelled rows they learn from every fraud and a share of each month's clean
    inspections, weighted back. Calibration: the latest ``calibration_share`` of the
    labelled rows (in time) is scored by a classifier fitted on the rows before it, as
    the future will be. Recency: with ``recency_halflife_days`` above 0, an inspection
    that many days older than the latest one weighs half as much in the classifier, the
    calibration and the overall fraud rate the records are judged against (0: every
    inspection weighs the same; off by default, lower on the backtest). Novel fraud:
    ``novelty_weight`` of the unsupervised peer signals added to the ranking. Stakes:
    ``revenue_weight`` of the duty at stake in the ranking (only where the training
    labels record recovered revenue); with
    ``usual_code_stake``, a declaration's stake is at least the duty of the importer's
    usual code that its goods may really be (chosen by the backtest: misclassification's
    recall@5 % 0.33 -> 0.52, revenue within the folds' noise); with ``usual_by_seller``,
    that usual code is read first from the importer's trade with the row's seller
    (``features._reclassification.usual_codes``). Scoring:
    ``exploration_share`` of the inspection capacity goes to exploration, spent as
    ``selection_policy`` says (``models._policies``: by default ``scheme-adapt``, the
    policy ``detector simulate`` chose: shared equally among the schemes the rows' own
    facts show, and the strangest rows showing none, with a share that follows what
    past exploration found beyond what the model expected); ``seed``
    makes the picks reproducible. A list sized to capacity is drawn from candidates: the rows
    that the first ``screen_trees`` trees of the first model rank highest,
    ``screen_factor`` times the list and at least ``screen_share`` of the rows, which
    the whole classifier then scores (``screen_trees=0`` scores every row with it).
    """

    min_peer_count: int = 20
    de_minimis: float = 150.0
    smoothing: float = 10.0
    destination: str | None = None
    label_history: str = "out_of_fold"
    estimator: str = "hgb"
    n_models: int = 3
    learning_rate: float = 0.2
    max_iter: int = 60
    max_leaf_nodes: int = 511
    max_depth: int | None = None
    min_samples_leaf: int = 3
    l2_regularization: float = 1.0
    max_features: float = 1.0
    max_categories: int = 250
    n_trees: int = 300
    calibration_share: float = 0.25
    recency_halflife_days: float = 0.0
    novelty_weight: float = 0.5
    novelty_floor: float = 0.98
    revenue_weight: float = 0.5
    usual_code_stake: bool = True
    usual_by_seller: bool = True
    exploration_share: float = 0.10
    selection_policy: str = "scheme-adapt"
    reasons_share: float = 0.10
    screen_trees: int = 10
    screen_factor: float = 4.0
    screen_share: float = 0.20
    max_labelled_rows: int = 500_000
    seed: int = 0
    extra_categorical: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        return asdict(self)
