"""The registry of step types, built explicitly at start-up: the single source of
the ``Step`` union, the flow-file model and its JSON Schema.

One name across the stack: a module ``ivr/flows/steps/<name>.py`` defines
``Step`` whose ``type`` literal is ``<name>``; that name is the registry key and
the schema definition name. Registration checks it, so a mismatch fails at start.
"""

from __future__ import annotations

import typing
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from types import ModuleType
from typing import Annotated, Any, Union

from pydantic import Field, create_model

from ivr.flows.steps.base import StepBase

if typing.TYPE_CHECKING:
    from ivr.flows.schema import FlowHeader


class RegistryError(ValueError):
    """A step module that does not follow the one-name rule, or a duplicate."""


def step_type(model: type[StepBase]) -> str:
    """The literal of a model's ``type`` field."""
    (value,) = typing.get_args(model.model_fields["type"].annotation)
    return str(value)


class Registry:
    """Step types by name, in registration order."""

    def __init__(self, modules: Iterable[ModuleType] = ()) -> None:
        self._models: dict[str, type[StepBase]] = {}
        self._flow_file: type[FlowHeader] | None = None
        for module in modules:
            self.register(module)

    def register(self, module: ModuleType) -> None:
        name = module.__name__.rpartition(".")[2]
        model = getattr(module, "Step", None)
        if not (isinstance(model, type) and issubclass(model, StepBase)):
            raise RegistryError(f"step module {module.__name__} defines no Step model")
        if step_type(model) != name:
            raise RegistryError(f"step module {module.__name__}: its Step's type is "
                                f"'{step_type(model)}', not the module's name '{name}'")
        if name in self._models:
            raise RegistryError(f"step type '{name}' is registered twice")
        self._models[name] = model
        self._flow_file = None

    def unregister(self, name: str) -> None:
        del self._models[name]
        self._flow_file = None

    @contextmanager
    def extended(self, *modules: ModuleType) -> Iterator[Registry]:
        """Extra step types for the duration of a block (tests, plug-ins under trial)."""
        for module in modules:
            self.register(module)
        try:
            yield self
        finally:
            for module in modules:
                self.unregister(module.__name__.rpartition(".")[2])

    @property
    def models(self) -> Mapping[str, type[StepBase]]:
        return dict(self._models)

    def union(self) -> Any:
        """The discriminated union of every registered step model."""
        return Annotated[Union[tuple(self._models.values())],  # noqa: UP007
                         Field(discriminator="type")]

    def flow_file(self) -> type[FlowHeader]:
        """The whole flow-file model, its ``steps`` typed on the current union."""
        if self._flow_file is None:
            from ivr.flows.schema import FlowHeader

            self._flow_file = create_model(  # type: ignore[call-overload]
                "FlowFile", __base__=FlowHeader, __doc__="A whole flow file.",
                steps=(dict[str, self.union()], Field(min_length=1)))
        return self._flow_file  # type: ignore[return-value]


def default_registry() -> Registry:
    """Every step type the engine ships, in the order the schema lists them."""
    from ivr.flows.steps import (
        answer,
        ask,
        book,
        branch,
        callback,
        followup,
        goto,
        hangup,
        history,
        menu,
        notices,
        play,
        results_status,
        route,
        say,
        schedule,
        subflow,
        survey,
        switch,
        triage,
        verify,
    )
    from ivr.flows.steps import set as set_step

    return Registry([say, play, menu, ask, answer, book, triage, route, callback, survey,
                     set_step, switch, branch, goto, subflow, schedule, followup, verify,
                     history, results_status, notices, hangup])


STEPS = default_registry()
