"""The scikit-learn estimator: one user encoder learned continually (TERACON)."""

from __future__ import annotations

import numbers

from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._encoder_checks import (
    MAX_BLOCKS,
    MAX_EMBEDDING_DIM,
    MAX_KERNEL_SIZE,
    MAX_LEN,
    EncoderChecks,
)
from ._encoder_export import EncoderExport
from ._encoder_inference import EncoderInference
from ._encoder_learning import EncoderLearning
from ._tasks import TaskName, TaskRecord, sequence_input_tags
from .model_selection import make_task_estimator
from .nn import BACKBONES
from .strategies.teracon import MAX_SCALE, TeraconStrategy
from .training._precision import PRECISIONS
from .training._threads import worker_torch_threads
from .training.losses import LOSSES

# TERACON's own parameters are estimator parameters; the strategy declares them.
TERACON_DEFAULTS = TeraconStrategy._defaults
TERACON_CONSTRAINTS = {
    name: TeraconStrategy._parameter_constraints[name]
    for name in TeraconStrategy.estimator_params
}


class ContinualUserEncoder(
    EncoderInference, EncoderLearning, EncoderExport, EncoderChecks, BaseEstimator
):
    """One user encoder learned continually over a stream of tasks (TERACON).

    A masked NextItNet is shared by every task. Each task owns soft masks over
    the backbone's channels, computed from task embeddings and, from the second
    task on, from the other tasks' embeddings (relation-aware masks), and a
    head. While a task trains, a frozen copy of the model gives pseudo-labels
    for the earlier tasks on a fraction of each batch (knowledge retention);
    the fraction shrinks as the tasks' masks grow alike (relation-aware
    sampling). See Kim et al., "Task Relation-aware Continual User
    Representation Learning", KDD 2023, and :doc:`/model`; the measurements
    behind the defaults are in :ref:`parameter-measurements`.

    :meth:`transform` gives ``embedding_dim`` columns named ``embedding_0``,
    ``embedding_1``, ... (:meth:`get_feature_names_out`), so
    ``set_output(transform="pandas")`` (or ``"polars"``) and
    ``sklearn.set_config(transform_output="pandas")`` return DataFrames.
    There is no ``n_features_in_``: a user is a ragged sequence of item ids,
    not a fixed number of features.

    Parameters
    ----------
    embedding_dim : int, default=64
        Width d of item embeddings, hidden states and user representations,
        at most 4096 (the paper: 256). ``embedding_dim``, ``n_blocks``,
        ``dilations`` and ``kernel_size`` shape the network: changing one on
        a fitted encoder needs ``fit`` (``partial_fit`` and ``save`` refuse it).
    n_blocks : int, default=4
        Residual blocks, at most 128 (the paper: 8); two mask slots each.
    dilations : sequence of int or None, default=None
        Dilation r of each block (its second convolution uses 2r): ``n_blocks``
        integers in [1, 1024]. None repeats the paper's (1, 4).
    kernel_size : int, default=3
        Width of every causal convolution, at most 64.
    backbone : {"nextitnet", "sasrec"}, default="nextitnet"
        The masked network: NextItNet's dilated convolutions, or SASRec's
        causal self-attention (``n_blocks`` blocks; ``max_len`` positions,
        which then shape the network; ``dilations``, ``kernel_size`` unread).
    max_len : int, default=50
        Positions kept per user (2 to 10000): longer sequences keep their most
        recent items. It may change on a fitted encoder.
    s : float, default=50.0
        Mask scale in [1, 1e4]: masks are ``σ(s·…)``; training anneals it from
        1/s to s within each epoch, prediction uses s.
    c : float, default=6.0
        Sharpness of relation-aware sampling,
        ``ρ_ij = 1 − mean_k σ(c·cos(m_i^k, m̃_j^k))``.
    alpha : float, default=2.0
        Weight of the knowledge-retention loss; 0 turns retention off.
    rho_min : float, default=0.1
        Floor of the sampling ratio ρ; every earlier task also keeps at least
        one user per batch.
    relation : {"centered", "paper"}, default="centered"
        The mask similarity behind ρ and ``task_relations_``: the cosine of
        the masks centred over their channels, or the paper's raw cosine.
    sampling : {"relation_aware", "uniform"}, default="relation_aware"
        ``"uniform"`` retains ``rho_min`` of every batch for each earlier task
        whatever the relations (the paper's ablation).
    readout : {"mean", "last"}, default="mean"
        The user representation labelled heads read and ``transform``
        returns: the mean hidden state over the user's real positions, or the
        last position's (the paper's). Next-item heads read the last position.
    retained_positions : {"all", "last"}, default="all"
        Where a next-item task is retained while later tasks train: every
        real position of the retained users, or the last one (the reference's).
    strategy : str, default="teracon"
        A key of :data:`sklearn_teracon.strategies.STRATEGIES`: ``"teracon"``,
        or one of the systems the paper compares it with (``"sequential"``,
        ``"finetune"``, ``"single"``, ``"joint"``, ``"hat"``,
        ``"piggyback"``, ``"peterrec"``, ``"conure"``), or its group's
        successor ``"ditto"`` (:doc:`/strategies`).
        ``c``, ``alpha``, ``rho_min``, ``relation``, ``sampling`` and
        ``retained_positions`` act with ``"teracon"`` only. It cannot change
        on a fitted encoder.
    strategy_params : dict or None, default=None
        Parameters of the chosen strategy by name (None: its defaults),
        validated when training starts; ``GridSearchCV`` searches them as
        ``{"strategy_params": [{...}, {...}]}``.
    lr : float, default=1e-2
        Adam learning rate.
    backbone_lr_scale : float in [0, 1], default=1.0
        From the second task on, the shared backbone (item embedding and
        convolutions) trains at ``lr * backbone_lr_scale``, the task's masks
        and head at ``lr``; 0 freezes the backbone after the first task.
    head_init : {"probe", "prior"}, default="probe"
        How the head of a new labelled task scored by accuracy starts: a
        cross-validated logistic regression on the frozen representation of
        its training users (falling back to the prior when it predicts worse
        than the majority class), or the classes' log frequencies as bias.
        Item tasks start at the prior. See :doc:`/few_labels`.
    majority_fallback : bool, default=True
        For labelled tasks scored by accuracy: an epoch replaces the start
        only if its validation loss is lower by more than two standard errors
        of the per-user differences, and a task that still ends under its
        training majority class on the validation users ends as that class
        (recorded as ``majority_fallback`` in its last history row).
    bag_weight : float, default=0.0
        Weight of a bag-of-items term in next-item tasks' loss: the user
        representation predicts every item of the user's history through the
        next-item head. See :doc:`/few_labels`.
    loss : {"full", "sampled"}, default="full"
        The exact softmax over every item (and class), or, for next-item and
        item-target tasks (more than 20 classes) and their retention, a
        sampled softmax with log-Q correction over ``n_negatives``
        popularity-drawn items per batch: for catalogues of 10⁵ items and
        more (:ref:`sampled-loss`). Validation and prediction stay exact.
    n_negatives : int, default=1024
        Items (classes) a sampled loss draws per batch.
    next_item_dropout : float in [0, 1), default=0.4
        Dropout on the item embeddings and each block's output while a
        next-item task trains (never in prediction, the teacher or the
        student's retention pass).
    batch_size : int, default=128
        Users per batch (per process under ``torchrun``: :doc:`/distributed`).
    max_epochs : int, default=20
        Epochs per ``partial_fit`` call.
    patience : int or None, default=3
        Early stopping on the validation loss (training loss without
        validation); the best epoch's weights are restored. None trains
        ``max_epochs``.
    validation_fraction : float in [0, 1), default=0.1
        Share of a call's users held out for early stopping; 0 for none. A
        call too small to hold out one user trains without; one that would
        hold out every user is refused.
    padding_value : None, str, bool, int or float, default=0
        Padding entry of 2-D array input (never an item): a string for an
        array of strings (e.g. ``"PAD"``), a number for numbers, None for an
        array without padding; what a model file holds (int64, finite float).
    device : str, default="cpu"
        Torch device, e.g. ``"cuda"``.
    precision : {"float32", "bfloat16"}, default="float32"
        Arithmetic of the forward passes (``torch.autocast``); weights,
        optimiser state and losses stay float32. It may change between calls
        and is saved with the model. Use bfloat16 only where the device has
        it natively (:doc:`/performance`).
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, shuffling, validation split and retention
        sampling: the same integer gives the same model. Training leaves
        torch's global generator as it was, and NumPy's too unless None.
    verbose : int, default=0
        0 prints nothing; 1 a line per task and skorch's epoch table; 2 adds a
        per-batch progress bar on a terminal's stderr.
    callbacks : list of skorch callbacks or (name, callback) tuples, default=None
        Extra callbacks for every task's training loop (``Checkpoint``,
        ``LRScheduler``, ...); one with a ``fn_prefix`` gets a copy per task
        whose files start with the task's name.

    Attributes
    ----------
    tasks_ : dict of str to TaskRecord
        Learned tasks in arrival order (``n_tasks_`` of them).
    item_vocabulary_ : ItemVocabulary
        Item ids seen in training; grows with later tasks.
    history_ : dict of str to skorch History
        Per task, one row per epoch over all calls (losses, ρ, duration, ...):
        ``enc.history_["age"][:, "train_loss"]``.
    task_relations_ : ndarray of shape (n_tasks, n_tasks)
        Cosine similarity of the tasks' masks, averaged over mask slots.
    last_task_ : str
        The most recently trained task, the default of ``predict`` & co.
    n_partial_fits_ : int
        Training calls since the last ``fit``; with an integer
        ``random_state`` it seeds the next call, so a sequence of calls is
        reproducible.
    net_ : ContinualNet
        The skorch net owning the torch module.

    Examples
    --------
    >>> from sklearn_teracon import ContinualUserEncoder
    >>> seqs = [[1, 2, 3, 4], [2, 3, 4, 5], [5, 4, 3], [1, 3, 5, 2]] * 8
    >>> ages = ["young", "old", "old", "young"] * 8
    >>> enc = ContinualUserEncoder(embedding_dim=16, max_epochs=2, random_state=0)
    >>> enc = enc.partial_fit(seqs)                    # self-supervised next item
    >>> enc = enc.partial_fit(seqs, ages, task="age")  # a new task
    >>> list(enc.tasks_)
    ['next_item', 'age']
    >>> enc.transform(seqs).shape
    (32, 16)
    """

    _parameter_constraints: dict = {
        "embedding_dim": [
            Interval(numbers.Integral, 1, MAX_EMBEDDING_DIM, closed="both")
        ],
        "n_blocks": [Interval(numbers.Integral, 1, MAX_BLOCKS, closed="both")],
        "dilations": ["array-like", None],
        "kernel_size": [Interval(numbers.Integral, 1, MAX_KERNEL_SIZE, closed="both")],
        "backbone": [StrOptions(set(BACKBONES))],
        "max_len": [Interval(numbers.Integral, 2, MAX_LEN, closed="both")],
        "s": [Interval(numbers.Real, 1, MAX_SCALE, closed="both")],
        **TERACON_CONSTRAINTS,
        "readout": [StrOptions({"last", "mean"})],
        "backbone_lr_scale": [Interval(numbers.Real, 0, 1, closed="both")],
        "head_init": [StrOptions({"prior", "probe"})],
        "majority_fallback": ["boolean"],
        "bag_weight": [Interval(numbers.Real, 0, MAX_SCALE, closed="both")],
        "loss": [StrOptions(set(LOSSES))],
        "n_negatives": [Interval(numbers.Integral, 1, None, closed="left")],
        "next_item_dropout": [Interval(numbers.Real, 0, 1, closed="left")],
        # Checked against the registry when training starts (``_strategy``):
        # a strategy registered after import is accepted.
        "strategy": [str],
        "strategy_params": [dict, None],
        "lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "patience": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="left")],
        "padding_value": "no_validation",
        "device": [str],
        "precision": [StrOptions(set(PRECISIONS))],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "callbacks": [list, None],
    }

    def __init__(
        self,
        *,
        embedding_dim: int = 64,
        n_blocks: int = 4,
        dilations=None,
        kernel_size: int = 3,
        backbone: str = "nextitnet",
        max_len: int = 50,
        s: float = 50.0,
        c: float = TERACON_DEFAULTS["c"],
        alpha: float = TERACON_DEFAULTS["alpha"],
        rho_min: float = TERACON_DEFAULTS["rho_min"],
        relation: str = TERACON_DEFAULTS["relation"],
        sampling: str = TERACON_DEFAULTS["sampling"],
        readout: str = "mean",
        retained_positions: str = TERACON_DEFAULTS["retained_positions"],
        strategy: str = "teracon",
        strategy_params: dict | None = None,
        lr: float = 1e-2,
        backbone_lr_scale: float = 1.0,
        head_init: str = "probe",
        majority_fallback: bool = True,
        bag_weight: float = 0.0,
        loss: str = "full",
        n_negatives: int = 1024,
        next_item_dropout: float = 0.4,
        batch_size: int = 128,
        max_epochs: int = 20,
        patience: int | None = 3,
        validation_fraction: float = 0.1,
        padding_value=0,
        device: str = "cpu",
        precision: str = "float32",
        random_state=None,
        verbose: int = 0,
        callbacks: list | None = None,
    ):
        self.embedding_dim = embedding_dim
        self.n_blocks = n_blocks
        self.dilations = dilations
        self.kernel_size = kernel_size
        self.backbone = backbone
        self.max_len = max_len
        self.s = s
        self.c = c
        self.alpha = alpha
        self.rho_min = rho_min
        self.relation = relation
        self.sampling = sampling
        self.readout = readout
        self.retained_positions = retained_positions
        self.strategy = strategy
        self.strategy_params = strategy_params
        self.lr = lr
        self.backbone_lr_scale = backbone_lr_scale
        self.head_init = head_init
        self.majority_fallback = majority_fallback
        self.bag_weight = bag_weight
        self.loss = loss
        self.n_negatives = n_negatives
        self.next_item_dropout = next_item_dropout
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.padding_value = padding_value
        self.device = device
        self.precision = precision
        self.random_state = random_state
        self.verbose = verbose
        self.callbacks = callbacks

    def __sklearn_tags__(self):
        tags = sequence_input_tags(super().__sklearn_tags__())
        # Representations come out of the network in its own dtype.
        tags.transformer_tags.preserves_dtype = []
        return tags

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "net_")

    @property
    def n_tasks_(self) -> int:
        check_is_fitted(self)
        return len(self.tasks_)

    # -- training ---------------------------------------------------------------
    def fit(self, X, y=None, *, task: str | None = None, classes=None):
        """Forget every task, then learn ``task`` on ``(X, y)``.

        Parameters
        ----------
        X : list of sequences of hashable item ids, or 2-D padded array
        y : array-like of shape (n_sequences,) or None
            Class labels; None learns the self-supervised next-item task.
        task : str or None
            Task name (default ``"next_item"`` without ``y``, ``"labels"`` with).
        classes : array-like or None
            Every label of the task (default: the labels in ``y``).

        Returns
        -------
        self
        """
        with worker_torch_threads():
            return self._learn(X, y, task=task, classes=classes, keep_tasks=False)

    def partial_fit(self, X, y=None, *, task: str | None = None, classes=None):
        """Learn ``task`` continually: the earlier tasks are kept and retained.

        A task name seen before continues that task. ``y=None`` means the
        self-supervised next-item task on ``X`` itself. Without ``task`` the
        name is ``"next_item"`` when ``y`` is None, else the last labelled
        task (or ``"labels"`` when there is none).

        If the call fails or is interrupted, the encoder is exactly as it was
        before it.

        Parameters
        ----------
        X : list of sequences of hashable item ids, or 2-D padded array
        y : array-like of shape (n_sequences,) or None
        task : str or None
        classes : array-like or None
            Every label of a new labelled task (default: the labels in ``y``).
            Later calls may only use these labels.

        Returns
        -------
        self
        """
        with worker_torch_threads():
            return self._learn(X, y, task=task, classes=classes, keep_tasks=True)

    def fit_transform(self, X, y=None, *, task: str | None = None, classes=None):
        """``fit(X, y, task=task, classes=classes).transform(X, task=task)``.

        Defined so that metadata routing passes ``task`` to both steps.
        """
        return self.fit(X, y, task=task, classes=classes).transform(X, task=task)

    def task_estimator(self, task: str, **params):
        """A scikit-learn classifier of one task on a frozen snapshot of this encoder.

        See :class:`sklearn_teracon.model_selection.TaskEstimator`: its ``fit``
        learns ``task`` continually on a copy of the snapshot, with ``params``
        (``s``, ``c``, ``alpha``, ``lr``, ...) overriding the encoder's. This
        encoder is never modified.
        """
        return make_task_estimator(self, task, **params)


__all__ = ["ContinualUserEncoder", "TaskName", "TaskRecord"]
