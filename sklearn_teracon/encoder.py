"""``ContinualUserEncoder``: TERACON as a scikit-learn estimator."""

from __future__ import annotations

import copy
import numbers
import time

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    StrOptions,
)
from sklearn.utils.validation import check_is_fitted
from skorch.history import History

from ._model_file import load_encoder, save_encoder
from ._sequences import (
    N_RESERVED,
    ItemVocabulary,
    check_labels,
    check_sequences,
    split_last_items,
)
from ._tasks import (
    TaskName,
    TaskRecord,
    _check_next_items,
    _check_task,
    _check_task_data,
    _log_prior,
    sequence_input_tags,
)
from .metrics import _row_scores_of_ranks, _row_scores_with_metric, default_metric
from .nn import LABELS, NEXT_ITEM
from .strategies import STRATEGIES, get_strategy
from .strategies.teracon import MAX_SCALE
from .training import build_net, seeded
from .training._device import check_device
from .training._precision import PRECISIONS
from .training._threads import worker_torch_threads
from .training.callbacks import non_finite_outputs
from .training.persistence import module_architecture

DEFAULT_TASK = {NEXT_ITEM: "next_item", LABELS: "labels"}

# Upper bounds of the size parameters, far above any useful setting (the
# paper: d=256, 8 blocks, dilations 1 and 4, kernel 3), so that a typo fails
# at fit with a clear error instead of a MemoryError deep inside torch: each
# bound alone, with the other defaults, still builds and trains in well under
# 1 GB. A dilation beyond max_len only ever reads padding.
MAX_EMBEDDING_DIM = 4096
MAX_BLOCKS = 128
MAX_KERNEL_SIZE = 64
MAX_DILATION = 1024
MAX_LEN = 10_000


class ContinualUserEncoder(TransformerMixin, BaseEstimator):
    """One user encoder learned continually over a stream of tasks (TERACON).

    A masked NextItNet is shared by every task. Each task owns soft masks over
    the backbone's channels, computed from task embeddings and, from the second
    task on, from the other tasks' embeddings (relation-aware masks), and a
    head. While a task trains, a frozen copy of the model gives pseudo-labels
    for the earlier tasks on a fraction of each batch (knowledge retention);
    the fraction shrinks as the tasks' masks grow alike (relation-aware
    sampling). See Kim et al., "Task Relation-aware Continual User
    Representation Learning", KDD 2023.

    :meth:`transform` gives ``embedding_dim`` columns named ``embedding_0``,
    ``embedding_1``, ... (:meth:`get_feature_names_out`), so
    ``set_output(transform="pandas")`` (or ``"polars"``), a
    :class:`~sklearn.pipeline.Pipeline`'s ``set_output`` and
    ``sklearn.set_config(transform_output="pandas")`` return DataFrames.
    There is no ``n_features_in_``: a user is a ragged sequence of item ids,
    not a fixed number of features, so no input width exists to check.

    Parameters
    ----------
    embedding_dim : int, default=64
        Width d of item embeddings, hidden states and user representations
        (the paper uses 256; 64 trains on a laptop CPU in minutes). At most
        4096. ``embedding_dim``, ``n_blocks``, ``dilations`` and
        ``kernel_size`` shape the network: changing one on a fitted encoder
        needs ``fit`` (``partial_fit`` and ``save`` refuse it).
    n_blocks : int, default=4
        Residual blocks (the paper uses 8), at most 128. Each has two mask
        slots.
    dilations : sequence of int or None, default=None
        Dilation r of each block (its second convolution uses 2r): ``n_blocks``
        integers in [1, 1024]. None repeats the paper's (1, 4) pattern over
        ``n_blocks``.
    kernel_size : int, default=3
        Width of every causal convolution, at most 64.
    max_len : int, default=50
        Positions kept per user (2 to 10000): longer sequences keep their most
        recent items.
    s : float, default=50.0
        Mask scale in [1, 1e4]: masks are ``σ(s·…)``. Training anneals it from
        1/s to s within each epoch; prediction uses s.
    c : float, default=6.0
        Sharpness of relation-aware sampling:
        ``ρ_ij = 1 − mean_k σ(c·cos(m_i^k, m̃_j^k))``.
    alpha : float, default=2.0
        Weight of the knowledge-retention loss; 0 turns retention off. On the
        synthetic stream (mean of 3 seeds) 2.0 kept next-item MRR@5 at 0.34
        through four later tasks where the paper's 0.7 let it fall from 0.40
        to 0.27, with the later tasks' final scores unchanged within noise.
        A larger weight trades the later tasks' learning for retention: on
        MovieLens-1M's six tasks 10 kept the next item at MRR@5 0.091 to the
        end (0.082 at 2) while liked, age, gender and occupation ended
        0.0006–0.013 lower (see "How strongly to retain" in the docs).
    rho_min : float, default=0.1
        Floor of the sampling ratio ρ; every earlier task also keeps at least
        one user per batch. With centred masks (``relation="centered"``) ρ
        spans its range and the floor is a guard.
    relation : {"centered", "paper"}, default="centered"
        The mask similarity behind ρ and ``task_relations_``: the cosine of
        the masks centred over their channels, or the paper's cosine of the
        raw masks. Raw masks are non-negative, so their cosine stays high
        and the paper's ρ stays under 0.05 at c=6: the floor then decides.
    sampling : {"relation_aware", "uniform"}, default="relation_aware"
        ``"uniform"`` retains ``rho_min`` of every batch for each earlier
        task whatever the relations (the paper's ρ = ρ_min ablation;
        ``rho_min=1`` retains every user).
    strategy : str, default="teracon"
        The continual-learning strategy: ``"teracon"`` (this model), or one
        of the systems the paper compares it with: ``"sequential"``,
        ``"finetune"``, ``"single"``, ``"joint"``, ``"hat"``,
        ``"piggyback"``, ``"peterrec"``, ``"conure"`` (see :doc:`/strategies`).
        ``c``, ``alpha``, ``rho_min``, ``relation``, ``sampling`` and
        ``retained_positions`` are TERACON's and only act with
        ``"teracon"``. It cannot change on a fitted encoder (``fit`` starts
        over).
    strategy_params : dict or None, default=None
        Parameters of the chosen strategy, by name (``None``: its defaults),
        validated by the strategy when training starts. A dict rather than
        estimator parameters because each strategy has its own: the
        estimator's signature stays the same whatever strategies exist, and
        ``GridSearchCV`` still searches them
        (``{"strategy_params": [{...}, {...}]}``). TERACON's own parameters
        stay estimator parameters (above), as they were before strategies.
    readout : {"mean", "last"}, default="mean"
        The user representation that labelled heads read and ``transform``
        returns: the mean hidden state over the user's real positions, or
        the hidden state at the last position (the paper's). Next-item heads
        always read the last position. Measured on MovieLens-1M (single task,
        from scratch): "last" stayed at the majority class on age and gender
        (0.342, 0.717); "mean" reached 0.392 and 0.757 (a bag-of-items
        logistic regression: 0.417, 0.766); synthetic ``category`` rose from
        0.58-0.62 to 0.70.
    retained_positions : {"all", "last"}, default="all"
        Where a next-item task is retained while later tasks train: at every
        real position of the retained users, or at the last one only (the
        reference code's choice, far cheaper with a large vocabulary).
    lr : float, default=1e-2
        Adam learning rate. 1e-2 rather than the usual 1e-3: with batches of
        128 a MovieLens-1M epoch is only 38 steps, and at 1e-3 next-item
        MRR@5 stopped at 0.052 against 0.087 at 1e-2 (item co-occurrence:
        0.085); age, gender and occupation gained 0.02-0.03 too.
    backbone_lr_scale : float, default=1.0
        From the second task on, the shared backbone (item embedding and
        convolutions) trains at ``lr * backbone_lr_scale``; the task's masks
        and head at ``lr``. 0 freezes the backbone after the first task.
    head_init : {"probe", "prior"}, default="probe"
        How the head of a new labelled task scored by accuracy (at most 20
        classes) starts; item tasks always start at the prior. ``"probe"``: a logistic
        regression on the frozen representation of the task's training
        users, its strength chosen by cross-validation, falling back to the
        class prior when it predicts worse than the majority class there
        (linear probing, then fine-tuning). ``"prior"``: no weights, the
        classes' log frequencies as bias. See :doc:`/few_labels`.
    majority_fallback : bool, default=True
        Guards of a labelled task scored by accuracy. An epoch replaces the
        model the task started from (its probe) only if its validation loss
        is lower by more than two standard errors of the per-user
        differences. A task that still ends under its training majority
        class on the validation users ends as that class: the network as
        before the task, the head predicting the prior; the last history
        row's ``majority_fallback`` says whether it happened. (Early stopping
        always counts the model before the first epoch as a candidate.)
    bag_weight : float, default=0.0
        Weight of a bag-of-items term in the loss of next-item tasks: the
        user representation (``readout``) predicts every item of the user's
        history through the next-item head, so it keeps what the whole
        history says about the user (what profile tasks read). 0 leaves it
        out. See :doc:`/few_labels`.
    next_item_dropout : float in [0, 1), default=0.4
        Dropout on the item embeddings and on each residual block's output
        while a next-item task trains (never at prediction, never in the
        frozen model that retention asks, never in the student's retention
        pass). Not in the paper or the reference code. On MovieLens-1M's next
        item (alone, seed 0) it lowered the best validation loss from 5.97
        (none) to 5.89 (0.2), 5.84 (0.4) and 5.81 (0.5), and test MRR@5 from
        0.085 to 0.092; the number of epochs grows with it (9, 11, 16, 18),
        and 0.6 hit the 20-epoch cap. Labelled tasks train without dropout:
        at 0.4 the liked task learned less (validation loss 7.14 against 7.03
        after 4 epochs), and age and gender moved within noise.
    batch_size : int, default=128
        Users per batch.
    max_epochs : int, default=20
        Epochs per ``partial_fit`` call.
    patience : int or None, default=3
        Early stopping: epochs without improvement of the validation loss
        (training loss without validation); None trains ``max_epochs``.
        The best epoch's weights are restored.
    validation_fraction : float, default=0.1
        Share of a call's users held out for early stopping; 0 for none.
    padding_value : hashable, default=0
        Padding entry of 2-D array input (never an item).
    device : str, default="cpu"
        Torch device, e.g. ``"cuda"``.
    precision : {"float32", "bfloat16"}, default="float32"
        Arithmetic of the forward passes in training and prediction.
        ``"bfloat16"`` runs them under ``torch.autocast`` on the device
        (CPU or CUDA): matrix multiplies and convolutions in bfloat16, while
        the weights, the optimiser state and the losses stay float32. On a
        CPU with bf16 instructions (AVX-512-BF16, AMX) a causal convolution's
        forward + backward ran 2.8x faster (d=256, benchmarks/conv_kernels.py).
        Not part of the network: it may change between ``partial_fit`` calls
        (the network predicts at the precision it was last trained or loaded
        with) and is saved with the model.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, shuffling, validation split and retention
        sampling. The same integer gives the same model.
    verbose : int, default=0
        0 prints nothing; 1 prints one line when a task starts and skorch's
        epoch table; 2 adds a per-batch progress bar on stderr, erased before
        each table row. Off a terminal (a file, a pipe) the bar is off and the
        table has no colour codes.
    callbacks : list of skorch callbacks or (name, callback) tuples, default=None
        Extra callbacks for every task's training loop (``Checkpoint``,
        ``LRScheduler``, your own, ...). Each task gets its own copy of a
        callback with a ``fn_prefix`` (``Checkpoint``): its files start with
        the task's name, e.g. ``age_params.pt``.

    Attributes
    ----------
    tasks_ : dict of str to TaskRecord
        Learned tasks in arrival order.
    n_tasks_ : int
    item_vocabulary_ : ItemVocabulary
        Item ids seen in training; grows with later tasks.
    history_ : dict of str to skorch History
        Per task, a :class:`skorch.history.History` with one row per epoch
        over all calls (losses, ρ, duration, ...), numbered on across calls:
        ``enc.history_["age"][:, "train_loss"]``.
    task_relations_ : ndarray of shape (n_tasks, n_tasks)
        Cosine similarity of the tasks' masks, averaged over mask slots.
    last_task_ : str
        The most recently trained task, the default of ``predict`` & co.
    net_ : ContinualNet
        The skorch net owning the torch module.

    Examples
    --------
    >>> from sklearn_teracon import ContinualUserEncoder
    >>> seqs = [[1, 2, 3, 4], [2, 3, 4, 5], [5, 4, 3], [1, 3, 5, 2]] * 8
    >>> ages = ["young", "old", "old", "young"] * 8
    >>> enc = ContinualUserEncoder(embedding_dim=16, n_blocks=1, max_epochs=2,
    ...                            random_state=0)
    >>> enc = enc.partial_fit(seqs)                    # self-supervised next item
    >>> enc = enc.partial_fit(seqs, ages, task="age")  # a new task
    >>> list(enc.tasks_)
    ['next_item', 'age']
    >>> enc.predict([[1, 2, 3]], task="age").shape
    (1,)
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
        "max_len": [Interval(numbers.Integral, 2, MAX_LEN, closed="both")],
        "s": [Interval(numbers.Real, 1, MAX_SCALE, closed="both")],
        "c": [Interval(numbers.Real, 0, MAX_SCALE, closed="right")],
        "alpha": [Interval(numbers.Real, 0, MAX_SCALE, closed="both")],
        "rho_min": [Interval(numbers.Real, 0, 1, closed="right")],
        "relation": [StrOptions({"centered", "paper"})],
        "sampling": [StrOptions({"relation_aware", "uniform"})],
        "readout": [StrOptions({"last", "mean"})],
        "retained_positions": [StrOptions({"all", "last"})],
        "backbone_lr_scale": [Interval(numbers.Real, 0, 1, closed="both")],
        "head_init": [StrOptions({"prior", "probe"})],
        "majority_fallback": ["boolean"],
        "bag_weight": [Interval(numbers.Real, 0, MAX_SCALE, closed="both")],
        "next_item_dropout": [Interval(numbers.Real, 0, 1, closed="left")],
        "strategy": [StrOptions(set(STRATEGIES))],
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
        max_len: int = 50,
        s: float = 50.0,
        c: float = 6.0,
        alpha: float = 2.0,
        rho_min: float = 0.1,
        relation: str = "centered",
        sampling: str = "relation_aware",
        readout: str = "mean",
        retained_positions: str = "all",
        strategy: str = "teracon",
        strategy_params: dict | None = None,
        lr: float = 1e-2,
        backbone_lr_scale: float = 1.0,
        head_init: str = "probe",
        majority_fallback: bool = True,
        bag_weight: float = 0.0,
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

    # -- scikit-learn plumbing ----------------------------------------------------
    def __sklearn_tags__(self):
        tags = sequence_input_tags(super().__sklearn_tags__())
        # Representations come out of the network in its own dtype.
        tags.transformer_tags.preserves_dtype = []
        return tags

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "net_")

    def _validate_params(self) -> None:
        super()._validate_params()
        # scikit-learn's Integral intervals accept True and False; torch does not.
        for name, constraints in self._parameter_constraints.items():
            value = getattr(self, name)
            integral = any(
                isinstance(c, Interval) and c.type is numbers.Integral
                for c in constraints
            )
            if integral and isinstance(value, bool | np.bool_):
                raise InvalidParameterError(
                    f"The {name!r} parameter of {type(self).__name__} must be an "
                    f"int, got the bool {value!r} instead."
                )
        self._strategy()  # strategy_params are the strategy's to check

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

    def _learn(self, X, y, *, task, classes, keep_tasks):
        self._validate_params()
        check_device(self.device)
        sequences = check_sequences(X, padding_value=self.padding_value)
        keep_tasks = keep_tasks and self.__sklearn_is_fitted__()
        if keep_tasks:
            self._check_architecture()
        tasks = copy.deepcopy(self.tasks_) if keep_tasks else {}
        kind = NEXT_ITEM if y is None else LABELS
        name = self._task_name(task, kind, tasks)
        record = tasks.get(name)
        task_classes, targets = _check_task_data(sequences, y, classes, name, record)
        if record is not None:
            metric = record.metric
        else:  # next items are ranked, however few the items are
            metric = "mrr@5" if kind == NEXT_ITEM else default_metric(len(task_classes))

        vocabulary = (
            copy.deepcopy(self.item_vocabulary_) if keep_tasks else ItemVocabulary()
        )
        vocabulary.extend(sequences)
        encoded = vocabulary.encode(sequences, self.max_len)
        seed = self._next_seed(keep_tasks)
        start = time.perf_counter()
        with seeded(seed, self.device):
            # Training runs on a copy: nothing is committed unless it succeeds.
            module = copy.deepcopy(self.net_.module_) if keep_tasks else None
            # The first task builds the backbone; later ones adapt it gently.
            first = record.index == 0 if record is not None else not tasks
            net = self._build_net(
                module,
                len(vocabulary),
                self._validation_share(len(sequences)),
                seed,
                task_name=name,
                backbone_lr=None if first else self.lr * self.backbone_lr_scale,
                dropout=self.next_item_dropout if kind == NEXT_ITEM else 0.0,
                # Profile tasks only: a probe over thousands of item classes
                # would cost more than the task's training.
                probe_head=record is None
                and self.head_init == "probe"
                and metric == "accuracy",
                majority_fallback=self.majority_fallback and metric == "accuracy",
                bag_weight=self.bag_weight if kind == NEXT_ITEM else 0.0,
            )
            if record is None:
                n_outputs = len(vocabulary) if kind == NEXT_ITEM else len(task_classes)
                record = TaskRecord(
                    name=name,
                    kind=kind,
                    index=net.add_task(kind, n_outputs, _log_prior(targets, n_outputs)),
                    classes_=task_classes,
                    metric=metric,
                )
                tasks[name] = record
            net.grow(len(vocabulary), task=record.index)
            net.start_task(record.index, list(tasks))
            net.fit_task(encoded, targets, epochs=self.max_epochs)
        # The commit below is skipped, so the encoder stays as it was.
        problem = non_finite_outputs(net, encoded[: self.batch_size], list(tasks))
        if problem:
            raise ValueError(
                f"training diverged on task {name!r}: {problem}; lower lr (now "
                f"{self.lr:g}); the encoder is left as it was"
            )
        record.fit_time += time.perf_counter() - start
        record.n_samples_seen += len(sequences)
        record.n_fits += 1

        history = copy.deepcopy(self.history_) if keep_tasks else {}
        task_history = history.setdefault(name, History())
        task_history.extend(_epoch_records(net.history, len(task_history)))
        # Commit: plain assignments, after all the work has succeeded.
        self.net_ = net
        self.tasks_ = tasks
        self.item_vocabulary_ = vocabulary
        self.history_ = history
        self.last_task_ = name
        self.task_relations_ = net.mask_similarity()
        self.n_partial_fits_ = (self.n_partial_fits_ + 1) if keep_tasks else 1
        return self

    def _task_name(self, task, kind, tasks) -> str:
        task = _check_task(task)
        if task is not None:
            return task
        if kind == NEXT_ITEM:
            return DEFAULT_TASK[NEXT_ITEM]
        labelled = [name for name, rec in tasks.items() if rec.kind == LABELS]
        return labelled[-1] if labelled else DEFAULT_TASK[LABELS]

    def _next_seed(self, keep_tasks: bool) -> int:
        if isinstance(self.random_state, numbers.Integral):
            call = self.n_partial_fits_ if keep_tasks else 0
            return int(
                np.random.SeedSequence([self.random_state, call]).generate_state(1)[0]
            )
        return int(
            check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        )

    def _validation_share(self, n_samples: int) -> float:
        """``validation_fraction``, or 0 when it would hold out no user or all."""
        n_valid = int(n_samples * self.validation_fraction)
        return self.validation_fraction if 1 <= n_valid < n_samples else 0.0

    def _build_net(
        self,
        module,
        n_embeddings: int,
        validation: float,
        seed: int,
        task_name: str | None = None,
        backbone_lr: float | None = None,
        dropout: float = 0.0,
        probe_head: bool = False,
        majority_fallback: bool = False,
        bag_weight: float = 0.0,
    ):
        return build_net(
            module,
            n_embeddings=n_embeddings,
            embedding_dim=self.embedding_dim,
            dilations=self._dilations(),
            kernel_size=self.kernel_size,
            strategy=self._strategy(),
            s=self.s,
            readout=self.readout,
            precision=self.precision,
            dropout=dropout,
            lr=self.lr,
            backbone_lr=backbone_lr,
            batch_size=self.batch_size,
            validation_fraction=validation,
            patience=self.patience,
            callbacks=self.callbacks,
            device=self.device,
            verbose=self.verbose,
            seed=seed,
            task_name=task_name,
            probe_head=probe_head,
            majority_fallback=majority_fallback,
            bag_weight=bag_weight,
        )

    def _strategy(self):
        """A new object of the ``strategy`` with its parameters, validated.

        Estimator parameters that the strategy reads (TERACON's ``c``,
        ``alpha``, ...) are passed on; ``strategy_params`` may not repeat them.
        """
        own = dict(self.strategy_params or {})
        estimator_params = STRATEGIES[self.strategy].estimator_params
        repeated = sorted(set(own) & set(estimator_params))
        if repeated:
            raise ValueError(
                f"strategy_params repeats {repeated}: set it as the estimator's "
                f"parameter ({repeated[0]}=...)"
            )
        own.update({name: getattr(self, name) for name in estimator_params})
        return get_strategy(self.strategy, **own)

    def _dilations(self) -> list[int]:
        if self.dilations is None:
            return [(1, 4)[b % 2] for b in range(self.n_blocks)]
        try:
            dilations = np.asarray(self.dilations, dtype=object)
        except ValueError:  # ragged nesting
            dilations = np.empty(0)
        valid = (
            dilations.ndim == 1
            and len(dilations) == self.n_blocks
            and all(
                isinstance(r, numbers.Integral)
                and not isinstance(r, bool)
                and 1 <= r <= MAX_DILATION
                for r in dilations
            )
        )
        if not valid:
            raise ValueError(
                f"dilations must hold n_blocks={self.n_blocks} integers in "
                f"[1, {MAX_DILATION}], one per block; got {self.dilations!r}"
            )
        return [int(r) for r in dilations]

    def _check_architecture(self) -> None:
        """Refuse parameters that no longer describe the fitted network.

        ``partial_fit`` continues the fitted network and ``save`` describes it
        by the parameters, so neither can go on once a parameter that shapes
        the network has changed.
        """
        built = module_architecture(self.net_.module_)
        if self.strategy != self.net_.strategy.name:
            raise ValueError(
                f"strategy={self.strategy!r}, but the fitted network was trained "
                f"with strategy={self.net_.strategy.name!r}, whose per-task state "
                "it holds. Call fit to start over (it forgets every task), or "
                f"set_params(strategy={self.net_.strategy.name!r})"
            )
        wanted = {
            "embedding_dim": self.embedding_dim,
            "n_blocks": self.n_blocks,
            "kernel_size": self.kernel_size,
            "dilations": self._dilations(),
        }
        for param, value in wanted.items():
            if built[param] != value:
                raise ValueError(
                    f"{param}={value!r}, but the fitted network has "
                    f"{param}={built[param]!r}: {param} shapes the network, so "
                    "it cannot change on a fitted encoder. Call fit to start over "
                    f"(it forgets every task), or set_params({param}="
                    f"{built[param]!r}) to keep the tasks learned"
                )

    def task_estimator(self, task: str, **params):
        """A scikit-learn classifier of one task on a frozen snapshot of this encoder.

        See :class:`sklearn_teracon.model_selection.TaskEstimator`: its ``fit``
        learns ``task`` continually on a copy of the snapshot, with ``params``
        (``s``, ``c``, ``alpha``, ``lr``, ...) overriding the encoder's. This
        encoder is never modified.
        """
        from .model_selection import make_task_estimator

        return make_task_estimator(self, task, **params)

    # -- persistence ------------------------------------------------------------
    def save(self, path) -> None:
        """Save the fitted encoder to one file that runs no code when loaded.

        Weights are stored as safetensors; everything else (parameters, tasks,
        classes, vocabulary, history, versions) as JSON in the file's header.
        The file is written atomically. ``callbacks`` are not saved (they are
        code); a loaded encoder has ``callbacks=None``.

        Parameters
        ----------
        path : str or path-like
        """
        check_is_fitted(self)
        save_encoder(self, path)

    @classmethod
    def load(cls, path, *, device: str | None = None) -> ContinualUserEncoder:
        """Load an encoder written by :meth:`save`.

        Parameters
        ----------
        path : str or path-like
        device : str or None
            Where to put the model (default: the saved ``device`` parameter).

        Returns
        -------
        ContinualUserEncoder
            Fitted, with every task; it can keep learning new tasks.
        """
        return load_encoder(cls, path, device=device)

    @staticmethod
    def _history_from_records(history: dict) -> dict:
        """``history_`` from saved history (per task, a list of epoch dicts)."""
        return {task: History(records) for task, records in history.items()}

    # -- inference --------------------------------------------------------------
    def _record(self, task: str | None) -> TaskRecord:
        check_is_fitted(self)
        task = _check_task(task)
        if task is None:
            return self.tasks_[self.last_task_]
        if task not in self.tasks_:
            raise ValueError(
                f"unknown task {task!r}; this encoder has learned {list(self.tasks_)}"
            )
        return self.tasks_[task]

    def _encode(self, X) -> np.ndarray:
        sequences = check_sequences(X, padding_value=self.padding_value)
        return self.item_vocabulary_.encode(sequences, self.max_len)

    def classes_of(self, task: str | None = None) -> np.ndarray:
        """The labels a task predicts: its classes, or the items of a next-item task."""
        record = self._record(task)
        if record.kind == LABELS:
            return record.classes_
        n_items = self.net_.module_.heads[record.index].out_features - N_RESERVED
        return self.item_vocabulary_.decode(np.arange(n_items) + N_RESERVED)

    def decision_function(self, X, task: str | None = None) -> np.ndarray:
        """Scores of every class (or item) of ``task``, shape ``(n, n_classes)``."""
        record = self._record(task)
        with worker_torch_threads():
            logits = self.net_.predict_logits(self._encode(X), record.index)
        # A next-item head's first two columns are padding and unknown.
        return logits[:, N_RESERVED:] if record.kind == NEXT_ITEM else logits

    def predict_proba(self, X, task: str | None = None) -> np.ndarray:
        """Class (or item) probabilities of ``task``, shape ``(n, n_classes)``."""
        scores = self.decision_function(X, task)
        scores = scores - scores.max(axis=1, keepdims=True)
        proba = np.exp(scores)
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, X, task: str | None = None) -> np.ndarray:
        """The most likely class of ``task`` (the next item, for next-item tasks)."""
        return self.recommend(X, task=task, k=1)[:, 0]

    def recommend(self, X, task: str | None = None, k: int = 10) -> np.ndarray:
        """Top-``k`` classes (items) of ``task`` per user, best first.

        Returns an array of shape ``(n, min(k, n_classes))``.
        """
        if not isinstance(k, numbers.Integral) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        record = self._record(task)
        if record.kind == NEXT_ITEM:
            # Ranked in vocabulary chunks: no [n_users, n_items] score matrix.
            encoded = self._encode(X)
            with worker_torch_threads():
                top = self.net_.top_columns(encoded, record.index, int(k), N_RESERVED)
            return self.classes_of(task)[top]
        scores = self.decision_function(X, task)
        k = min(int(k), scores.shape[1])
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        order = np.take_along_axis(scores, top, axis=1).argsort(axis=1, kind="stable")
        top = np.take_along_axis(top, order[:, ::-1], axis=1)
        return self.classes_of(task)[top]

    def transform(self, X, task: str | None = None) -> np.ndarray:
        """User representations, shape ``(n, embedding_dim)``.

        With a task: the ``readout`` representation (by default the mean
        hidden state over the user's real positions) under that task's masks.
        Without one: the universal representation, the mean of every learned
        task's representation (fixed width, uses every task).

        The mean was chosen by measurement (synthetic stream, 2 seeds: a
        logistic-regression probe for ``category`` fitted after task 2 and
        kept through three more tasks). Probe accuracy and its change: the
        mean 0.56 / 0.52, change -0.04 / -0.04; the first task's
        representation 0.49 / 0.45, change -0.10 / +0.02; the unmasked
        backbone 0.57 / 0.54, change -0.07 / -0.10. The mean reads best and
        moves no more than the first task's; a probe that must not move at
        all should read ``transform(X, task=...)`` of one task.
        """
        check_is_fitted(self)
        encoded = self._encode(X)
        with worker_torch_threads():
            if task is not None:
                return self.net_.embed(encoded, self._record(task).index)
            return np.mean(
                [self.net_.embed(encoded, rec.index) for rec in self.tasks_.values()],
                axis=0,
            )

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Names of :meth:`transform`'s columns: ``embedding_0``, ``embedding_1``, ...

        Parameters
        ----------
        input_features : None
            Unused: the input is item sequences, which have no feature names.
            Accepted so that a :class:`~sklearn.pipeline.Pipeline` can call it.

        Returns
        -------
        ndarray of str, shape (embedding_dim,)
        """
        check_is_fitted(self)
        width = module_architecture(self.net_.module_)["embedding_dim"]
        return np.asarray([f"embedding_{i}" for i in range(width)], dtype=object)

    def score(self, X, y=None, task: str | None = None) -> float:
        """The task's metric on ``(X, y)``: accuracy (≤ 20 classes) or MRR@5.

        For a next-item task without ``y``, each sequence's last item is
        predicted from the items before it (full ranking over all items).
        Labels (items) never seen in training count as misses. The mean of
        :meth:`score_rows`.
        """
        return float(np.mean(self.score_rows(X, y, task=task)))

    def score_rows(self, X, y=None, task: str | None = None) -> np.ndarray:
        """Each row's term of :meth:`score`: 0/1 correctness, or its reciprocal rank.

        For comparing two models on the same users: the difference of their
        scores is the mean of the rows' differences, whose spread
        :func:`~sklearn_teracon.metrics.paired_difference` bootstraps.

        Parameters
        ----------
        X : list of sequences or 2-D padded array
        y : array-like of shape (n_sequences,) or None
            Labels (items); None for a next-item task scores each sequence's
            last item.
        task : str or None
            Default: the last task trained.

        Returns
        -------
        ndarray of shape (n_sequences,)
            Each row's accuracy (0 or 1) or MRR@5 term (``1/rank`` within
            the top 5, else 0), in the task's metric.

        Examples
        --------
        >>> from sklearn_teracon import ContinualUserEncoder
        >>> seqs = [[1, 2, 3, 4], [2, 3, 4, 5], [5, 4, 3, 2]] * 8
        >>> enc = ContinualUserEncoder(embedding_dim=8, n_blocks=1, max_epochs=1,
        ...                            random_state=0).partial_fit(seqs)
        >>> rows = enc.score_rows(seqs)
        >>> rows.shape, bool(rows.mean() == enc.score(seqs))
        ((24,), True)
        """
        record = self._record(task)
        if record.kind == NEXT_ITEM and y is None:
            sequences = check_sequences(X, padding_value=self.padding_value)
            X, y = split_last_items(sequences)
        elif y is None:
            raise ValueError(f"task {record.name!r} is labelled: score needs y")
        if record.kind == NEXT_ITEM and record.metric != "accuracy":
            # Ranks in vocabulary chunks: no [n_users, n_items] score matrix.
            encoded = self._encode(X)
            targets = self._targets(record, _check_next_items(y, len(encoded)))
            with worker_torch_threads():
                ranks = self.net_.target_ranks(
                    encoded, record.index, targets, N_RESERVED
                )
            return _row_scores_of_ranks(record.metric, ranks)
        scores = self.decision_function(X, record.name)
        if record.kind == LABELS:
            y = check_labels(y, len(scores))
        else:
            y = _check_next_items(y, len(scores))
        return _row_scores_with_metric(record.metric, scores, self._targets(record, y))

    def _targets(self, record: TaskRecord, y) -> np.ndarray:
        """Column index of each label in ``decision_function``; -1 if unknown."""
        if record.kind == NEXT_ITEM:
            index = self.item_vocabulary_.index_of(y) - N_RESERVED
            n_items = self.net_.module_.heads[record.index].out_features - N_RESERVED
            return np.where((index >= 0) & (index < n_items), index, -1)
        classes = record.classes_
        pos = np.clip(np.searchsorted(classes, y), 0, len(classes) - 1)
        return np.where(classes[pos] == y, pos, -1)


def _epoch_records(history, n_earlier_epochs: int = 0) -> list[dict]:
    """skorch's epoch rows, each per-batch value averaged into its epoch's row.

    A numeric per-batch key that skorch does not already put into the epoch
    row (``rho``, ``retention_loss``, ...) gets its mean over the batches that
    recorded it; batch sizes are left out. Epochs are numbered on from
    ``n_earlier_epochs``, the task's epochs in earlier calls.
    """
    records = []
    for number, row in enumerate(history, start=n_earlier_epochs + 1):
        record = {k: v for k, v in row.items() if k != "batches"}
        record["epoch"] = number
        per_batch: dict[str, list[float]] = {}
        for batch in row.get("batches", []):
            for key, value in batch.items():
                numeric = isinstance(value, numbers.Real) and not isinstance(
                    value, bool
                )
                if numeric and key not in record and not key.endswith("batch_size"):
                    per_batch.setdefault(key, []).append(float(value))
        record.update({key: float(np.mean(v)) for key, v in per_batch.items()})
        records.append(record)
    return records


__all__ = ["ContinualUserEncoder", "TaskName", "TaskRecord"]
