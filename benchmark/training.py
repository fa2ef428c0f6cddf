"""The training engine: one run, start to finish (``train_run``, contract in docs/contracts.md).

The engine owns the loop, the data, the model optimisers and schedules, and evaluation; the method owns
its loss and its extra state. The engine never branches on a method's name: it builds ``method.n_models``
models and calls the method's hooks. Data stay on the device and are indexed by shuffled index tensors;
the training loss is accumulated on the device and read, with every other metric, once per epoch.

Seeds: :func:`benchmark.seeding.seed_streams` splits ``spec.seed`` into noise / split (used by
``benchmark.data.prepare``), init (model initialisation) and order (data order, augmentation, dropout and
any other draw from the global torch RNG during training). The global RNG state of the caller is restored.

Evaluation (validation, test) uses model 0 under ``torch.no_grad`` in eval mode; for Co-teaching that is
the first network (the official code reports both; they behave alike). Memorisation (model 0's accuracy on
the corrupted training samples against their noisy and their true labels, and on the clean samples, only
when some labels are corrupted) is read from the training forward passes when the recipe does not augment:
each sample's prediction in its own step of the epoch (train mode, before that step's update), as the
hardness below is, instead of a re-prediction of the training set per epoch. The steps' logits, task
losses and objectives are kept in an :class:`~benchmark.engine.step_record.EpochRecord` and reduced a
chunk of steps at a time (one argmax, one index write, one index_add), with the same results as per-step
operations. With augmentation (the training passes see augmented inputs) the plain corrupted samples, and as
many clean ones evenly spaced over the training set, are predicted again after the epoch, in eval mode.
Methods with per-sample weights also log the mean weight of the clean and of the corrupted samples.
``train/loss`` is the mean over batches of the objective the method back-propagates.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from benchmark.data._base import PreparedData, Recipe
from benchmark.engine.batching import Inputs, index_batches
from benchmark.engine.device import keep_freed_memory, peak_memory_mb, reset_peak_memory, resolve_device
from benchmark.engine.metrics import accuracy, auroc, hard_clean_mask, label_accuracy, mae
from benchmark.engine.optim import build_optimizer
from benchmark.engine.recipe import resolve_recipe
from benchmark.engine.schedules import Schedule
from benchmark.engine.step_record import EpochRecord
from benchmark.engine.summary import summarise_history
from benchmark.errors import HyperparameterError
from benchmark.health import COLLAPSE_CV, run_health, weight_spread
from benchmark.method import LossMethod, MethodContext
from benchmark.models import build_model
from benchmark.naming import SELECTIONS, higher_is_better, selection_series, task_metric
from benchmark.registry import METHODS, load_builtin_components
from benchmark.runs import RunResult, RunSpec
from benchmark.seeding import seed_streams

__all__ = ["RunLoop", "planned_schedule", "start_run", "train_run"]

EpochCallback = Callable[[int, dict[str, float]], None]


def train_run(
    spec: RunSpec,
    data: PreparedData | None = None,
    hardness: np.ndarray | None = None,
    selection: str = "noisy-val",
    on_epoch: EpochCallback | None = None,
    progress: bool = False,
) -> RunResult:
    """Train one run and return its metrics; a diverging run returns ``status="failed"`` with a reason.

    Args:
        spec: what to run. data: a PreparedData to reuse (else prepared from ``spec``).
        hardness: (n_train,) larger = harder; overrides the dataset's ``Split.hardness``.
        selection: which per-epoch series picks the best epoch (``SELECTIONS``; ties → earliest).
        on_epoch: called after each epoch with (epoch, metrics); its exceptions propagate.
        progress: show a tqdm bar on stderr.

    Raises:
        DiscrimBenchError: bad names, hyperparameters, recipe overrides or device (before training).
    """
    if selection not in SELECTIONS:
        raise HyperparameterError(
            f"selection={selection!r} is not allowed (allowed: {', '.join(SELECTIONS)})"
        )
    device = resolve_device(spec.device)
    cuda = [device.index or 0] if device.type == "cuda" else []  # a CPU run never initialises CUDA
    with torch.random.fork_rng(devices=cuda):
        return start_run(spec, data, hardness).run(selection, on_epoch, progress)


def start_run(spec: RunSpec, data: PreparedData | None = None, hardness: np.ndarray | None = None) -> RunLoop:
    """Set up one run (data, models, method, optimisers) without training it.

    :func:`train_run` is this plus :meth:`RunLoop.run`; callers that drive the epochs themselves (the
    engine benchmark times :meth:`RunLoop.train_epoch` of several methods interleaved) use it directly.
    It seeds the global torch RNG from the run's init and order streams and, unlike :func:`train_run`,
    leaves it so. Arguments and errors as :func:`train_run`.
    """
    load_builtin_components()
    method_cls: type[LossMethod] = METHODS.get(spec.method)
    params = method_cls.make_params(spec.params)
    device = resolve_device(spec.device)
    if data is None:
        from benchmark.data import prepare

        data = prepare(
            spec.dataset,
            spec.noise,
            spec.rate,
            spec.seed,
            noise_params=spec.noise_params,
            dataset_kwargs=spec.dataset_kwargs,
            val_fraction=spec.val_fraction,
            data_root=spec.data_root,
            recipe_kind=spec.recipe_kind,
            download=False,
        )
    recipe = resolve_recipe(data.recipe, spec.recipe, spec.epochs)
    if device.type == "cpu":
        keep_freed_memory()
    streams = seed_streams(spec.seed)
    torch.manual_seed(streams.init)
    n_out = data.num_classes if data.task == "classification" and data.num_classes else 1
    models = [
        build_model(recipe.model, data.input_shape, n_out, **recipe.model_kwargs).to(device)
        for _ in range(method_cls.n_models)
    ]
    torch.manual_seed((streams.order + 1) % 2**63)
    ctx = MethodContext(
        task=data.task,
        num_classes=data.num_classes,
        n_train=len(data.train),
        epochs=recipe.epochs,
        device=device,
        noise_rate=spec.rate,
        regression_loss=recipe.regression_loss,
        realised_noise_rate=float(data.realised_rate),
        target_scale=data.target_scale,
        distinct_rows=True,  # index_batches: slices of one epoch permutation
    )
    method = method_cls(params, ctx)
    return RunLoop(spec, data, recipe, device, models, method, hardness, streams.order)


def planned_schedule(spec: RunSpec, data: PreparedData) -> tuple[dict[str, float], int]:
    """The method's ``schedule_epochs()`` and the number of epochs of the run ``spec`` describes, known
    before it trains (the study's pruning warm-up asks the method itself, through its public API)."""
    load_builtin_components()
    method_cls: type[LossMethod] = METHODS.get(spec.method)
    recipe = resolve_recipe(data.recipe, spec.recipe, spec.epochs)
    ctx = MethodContext(
        task=data.task, num_classes=data.num_classes, n_train=len(data.train), epochs=recipe.epochs,
        noise_rate=spec.rate, regression_loss=recipe.regression_loss, target_scale=data.target_scale,
    )  # fmt: skip
    return method_cls(method_cls.make_params(spec.params), ctx).schedule_epochs(), recipe.epochs


@contextlib.contextmanager
def eval_mode(model: torch.nn.Module) -> Iterator[None]:
    """``model`` in eval mode inside the block and in its former mode after. A model already in eval
    mode is left as it is: a switch walks every submodule (about 65 µs for a 3-layer MLP)."""
    if not model.training:
        yield
        return
    model.eval()
    try:
        yield
    finally:
        model.train()


class RunLoop:
    """The state of one run between setup and summary (kept small: one method per phase)."""

    def __init__(
        self,
        spec: RunSpec,
        data: PreparedData,
        recipe: Recipe,
        device: torch.device,
        models: list[torch.nn.Module],
        method: LossMethod,
        hardness: np.ndarray | None,
        order_seed: int,
    ) -> None:
        self.spec, self.data, self.recipe, self.device = spec, data, recipe, device
        self.models, self.method = models, method
        self.metric = task_metric(data.task)
        self.optimizers = [build_optimizer(recipe, m.parameters()) for m in models]
        norm = (recipe.normalize_mean, recipe.normalize_std)
        self.train_x = Inputs(data.train.x, device, *norm, recipe.augment, recipe.crop_padding)
        self.val_x = Inputs(data.val.x, device, *norm)
        self.test_x = Inputs(data.test.x, device, *norm)
        self.train_plain = Inputs(data.train.x, device, *norm) if recipe.augment != "none" else self.train_x

        def to(t: Any) -> torch.Tensor:
            return torch.as_tensor(t).to(device)

        self.y_train, self.y_train_clean = to(data.train.y), to(data.train_clean_y)
        self.y_val, self.y_val_clean, self.y_test = to(data.val.y), to(data.val_clean_y), to(data.test.y)
        self.corrupted = to(data.train_mask).bool()
        self.any_corrupted = bool(self.corrupted.any())  # no memorisation pass when nothing is corrupted
        self.memo = self.metric == "acc" and self.any_corrupted
        self.memo_from_steps = self.memo and self.train_plain is self.train_x  # no augmentation
        # model 0's predicted class of each training sample in its step of the current epoch
        self.step_pred = torch.zeros(len(data.train) if self.memo_from_steps else 0, dtype=torch.long,
                                     device=device)  # fmt: skip
        self.corrupted_rows = self.corrupted.nonzero().squeeze(1)
        clean_rows = (~self.corrupted).nonzero().squeeze(1)
        if not self.memo_from_steps and len(clean_rows) > len(self.corrupted_rows):  # re-predicted: a sample
            keep = torch.linspace(0, len(clean_rows) - 1, len(self.corrupted_rows), device=device).long()
            clean_rows = clean_rows[keep]
        self.clean_rows = clean_rows
        hard = hardness if hardness is not None else data.train.hardness
        self.hard_clean = None if hard is None else hard_clean_mask(to(hard).float(), self.corrupted)
        self.order = torch.Generator().manual_seed(order_seed)
        # Σ over epochs of each training sample's task loss (model 0) as seen in its step: divided by the
        # epochs, a per-sample hardness (area under the loss curve) that costs one index_add per step.
        self.loss_area = torch.zeros(len(data.train), device=device, dtype=torch.float64)
        n_batches = len(
            index_batches(len(data.train), recipe.batch_size, torch.Generator(), torch.device("cpu"))
        )
        self.schedule = Schedule.from_recipe(recipe, n_batches)
        self.selection_key: str | None = None  # set by run(); None: no best checkpoint is tracked
        self.best: tuple[float, list[dict[str, torch.Tensor]]] | None = None

    # ---- phases ---------------------------------------------------------------------------------

    def run(self, selection: str, on_epoch: EpochCallback | None, progress: bool) -> RunResult:
        self.selection_key = selection_series(selection, self.data.task)
        reset_peak_memory(self.device)
        history: list[dict[str, float]] = []
        train_s: list[float] = []
        status, reason, start = "ok", None, time.perf_counter()
        bar = tqdm(range(self.recipe.epochs), disable=not progress, file=sys.stderr, desc=self.spec.method)
        for epoch in bar:
            t0 = time.perf_counter()
            loss = self.train_epoch(epoch)
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            train_s.append(time.perf_counter() - t0)
            if not math.isfinite(loss):
                status, reason = "failed", f"training loss is {loss} at epoch {epoch} (diverged)"
                break
            row = self._evaluate(epoch, loss)
            row["time/epoch_s"] = time.perf_counter() - t0
            history.append(row)
            self._keep_if_best(row)
            bar.set_postfix(
                {k.split("/", 1)[1]: f"{v:.3g}" for k, v in row.items() if k[:4] in ("trai", "val/")}
            )
            if on_epoch is not None:
                on_epoch(epoch, dict(row))
        bar.close()
        return self._summarise(history, status, reason, selection, time.perf_counter() - start, train_s)

    def train_epoch(self, epoch: int) -> float:
        """One pass over the shuffled training set; returns the mean objective (one host read)."""
        self.method.on_epoch_start(epoch, self._predict_train)
        for model in self.models:
            model.train()
        batches = index_batches(len(self.y_train), self.recipe.batch_size, self.order, self.device)
        record = EpochRecord(self.step_pred if self.memo_from_steps else None, self.loss_area)
        per_it = self.schedule.per_iteration
        for it, (idx, x) in enumerate(self.train_x.train_batches(batches)):
            if per_it or it == 0:
                self.schedule.apply(self.optimizers, epoch, it)
            outputs = [m(x) for m in self.models]
            step = self.method.loss(outputs, self.y_train[idx], idx, epoch)
            objective = step.objective()
            for opt in self.optimizers:
                opt.zero_grad(set_to_none=True)
            objective.backward()
            if self.recipe.grad_clip is not None:
                for model in self.models:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), self.recipe.grad_clip)
            for opt in self.optimizers:
                opt.step()
            self.method.after_step()
            record.add(idx, outputs[0], step.task_loss, objective)
        return record.close()

    @torch.no_grad()
    def _predict(
        self, model: torch.nn.Module, inputs: Inputs, rows: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Eval-mode outputs of ``model`` on ``inputs`` (or on its ``rows``), in order."""
        with eval_mode(model):
            parts = [model(x) for _, x in inputs.eval_batches(self.recipe.eval_batch_size, rows)]
        return torch.cat(parts) if parts else torch.empty(0, device=self.device)

    @torch.no_grad()
    def _predict_augmented(self, model: torch.nn.Module) -> torch.Tensor:
        order = torch.arange(len(self.y_train), device=self.device)
        batches = list(torch.split(order, self.recipe.eval_batch_size))
        with eval_mode(model):
            parts = [model(x) for _, x in self.train_x.train_batches(batches)]
        return torch.cat(parts)

    def _predict_train(
        self, *, augmented: bool = False, checkpoint: str = "current"
    ) -> tuple[Sequence[torch.Tensor], torch.Tensor]:
        """Outputs of every model on the training set in index order, and noisy targets
        (``benchmark.method.TrainPredictor``)."""
        predict = self._predict_augmented if augmented else lambda m: self._predict(m, self.train_plain)
        if checkpoint != "best" or self.best is None:
            return [predict(m) for m in self.models], self.y_train
        current = [{k: v.clone() for k, v in m.state_dict().items()} for m in self.models]
        try:
            for model, state in zip(self.models, self.best[1], strict=True):
                model.load_state_dict(state)
            return [predict(m) for m in self.models], self.y_train
        finally:
            for model, state in zip(self.models, current, strict=True):
                model.load_state_dict(state)

    def _keep_if_best(self, row: dict[str, float]) -> None:
        """Copy the models when this epoch is the best so far by the selection split (ties: earliest),
        only for a method that asks for it."""
        if not self.method.keeps_best_checkpoint or self.selection_key is None:
            return
        value = row[self.selection_key]
        if not math.isfinite(value):
            return
        sign = 1.0 if higher_is_better(self.metric) else -1.0
        if self.best is None or sign * value > sign * self.best[0]:
            states = [{k: v.detach().clone() for k, v in m.state_dict().items()} for m in self.models]
            self.best = (value, states)

    def _evaluate(self, epoch: int, train_loss: float) -> dict[str, float]:
        """All per-epoch metrics of model 0, stacked on the device and read back at once."""
        with eval_mode(self.models[0]):  # one switch for every prediction below
            return self._evaluate_in_eval_mode(epoch, train_loss)

    def _evaluate_in_eval_mode(self, epoch: int, train_loss: float) -> dict[str, float]:
        model, m = self.models[0], self.metric
        score = accuracy if m == "acc" else mae
        val_out = self._predict(model, self.val_x)
        values: dict[str, torch.Tensor] = {
            f"val/{m}": score(val_out, self.y_val),
            f"val/{m}_clean": score(val_out, self.y_val_clean),
            f"test/{m}": score(self._predict(model, self.test_x), self.y_test),
        }
        nan = torch.tensor(math.nan, device=self.device)
        values["memo/noisy_acc"] = values["memo/true_acc"] = values["memo/clean_acc"] = nan
        if self.memo:
            rows, clean = self.corrupted_rows, self.clean_rows
            if self.memo_from_steps:
                pred, clean_pred = self.step_pred[rows], self.step_pred[clean]
            else:
                both = self._predict(model, self.train_plain, torch.cat([rows, clean])).argmax(dim=1)
                pred, clean_pred = both[: len(rows)], both[len(rows) :]
            values["memo/noisy_acc"] = label_accuracy(pred, self.y_train[rows])
            values["memo/true_acc"] = label_accuracy(pred, self.y_train_clean[rows])
            values["memo/clean_acc"] = label_accuracy(clean_pred, self.y_train[clean])
            values[f"train/{m}_clean"] = values["memo/clean_acc"]  # the budget-health convergence series
        else:  # no corrupted label (or regression): the clean part is predicted for the health checks
            out = self._predict(model, self.train_plain)[~self.corrupted]
            values[f"train/{m}_clean"] = score(out, self.y_train[~self.corrupted])
        weights = self.method.sample_weights()
        values["diag/auroc_noisy_clean"] = values["diag/auroc_noisy_hard"] = nan
        values["diag/weight_clean_mean"] = values["diag/weight_corrupted_mean"] = nan
        values["diag/weight_spread"] = nan
        if weights is not None:
            w = weights.detach().reshape(-1).double()
            values["diag/weight_clean_mean"] = w[~self.corrupted].mean() if (~self.corrupted).any() else nan
            values["diag/weight_corrupted_mean"] = w[self.corrupted].mean() if self.any_corrupted else nan
        if weights is not None and not self.method.weights_constant_by_design():
            # equal weights rank nothing: their AUROC (0.5 by ties) is left out, never reported
            spread = weight_spread(weights)
            informative = spread >= COLLAPSE_CV
            values["diag/weight_spread"] = spread
            values["diag/auroc_noisy_clean"] = torch.where(
                informative, auroc(-weights.detach(), self.corrupted), nan.double()
            )
            if self.hard_clean is not None:
                keep = self.corrupted | self.hard_clean
                values["diag/auroc_noisy_hard"] = torch.where(
                    informative, auroc(-weights.detach()[keep], self.corrupted[keep]), nan.double()
                )
        read = torch.stack([v.double().reshape(()) for v in values.values()]).tolist()
        return {"epoch": float(epoch), "train/loss": train_loss, **dict(zip(values, read, strict=True))}

    def _summarise(
        self, history: list[dict[str, float]], status: str, reason: str | None, selection: str,
        wall: float, train_s: list[float],
    ) -> RunResult:  # fmt: skip
        higher = higher_is_better(self.metric)
        weights = self.method.sample_weights()
        health = run_health(
            history, self.metric, self.recipe.epochs, self.method.schedule_epochs(),
            self.method.weights_constant_by_design(), self.data.num_classes,
            corrupted=self.any_corrupted,
        )  # fmt: skip
        return RunResult(
            spec=self.spec, status=status, metric=self.metric, higher_is_better=higher,  # type: ignore[arg-type]
            history=history, reason=reason,
            **summarise_history(history, self.metric, selection_series(selection, self.data.task), higher),  # type: ignore[arg-type]
            realised_rate=float(self.data.realised_rate), noisy_labels_sha256=self.data.noisy_labels_sha256,
            wall_time_s=wall, samples_per_s=len(self.y_train) * len(train_s) / max(sum(train_s), 1e-12),
            peak_memory_mb=peak_memory_mb(self.device), device=str(self.device),
            sample_weights=None if weights is None else weights.detach().cpu().numpy(),
            hardness=(self.loss_area / max(1, len(train_s))).cpu().numpy() if history else None,
            health=health,
            extra={
                "selection": selection, "recipe": asdict(self.recipe),
                "method_params": self.method.params.model_dump(), "n_train": len(self.y_train),
                "method_resolved": self.method.resolved_values(),
                "n_val": len(self.y_val), "n_test": len(self.y_test), "train_phase_s": train_s,
                "torch": torch.__version__,
            },
        )  # fmt: skip
