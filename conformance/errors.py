"""Errors raised while reading the spec: each names the file, the YAML path and what is wrong."""

from __future__ import annotations

from collections.abc import Iterable


class SpecError(Exception):
    """One problem in one spec file, at one YAML path (e.g. ``heads.BertModel.outputs[2].shape``)."""

    def __init__(self, file: str, yaml_path: str, message: str) -> None:
        super().__init__(file, yaml_path, message)
        self.file = str(file)
        self.yaml_path = yaml_path or "(document)"
        self.message = message

    @property
    def errors(self) -> tuple[SpecError, ...]:
        """Every error carried; a single error carries itself (so callers can treat both kinds alike)."""
        return (self,)

    def __str__(self) -> str:
        return f"{self.file}: {self.yaml_path}: {self.message}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SpecError) and str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))


class SpecErrors(SpecError):
    """Several spec errors found together (every error of a load, not just the first)."""

    def __init__(self, errors: Iterable[SpecError]) -> None:
        flat = tuple(e for error in errors for e in error.errors)
        if not flat:
            raise ValueError("SpecErrors needs at least one error")
        first = flat[0]
        super().__init__(first.file, first.yaml_path, f"{len(flat)} spec error(s)")
        self._errors = flat

    @property
    def errors(self) -> tuple[SpecError, ...]:
        return self._errors

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self._errors)


def raise_if_any(errors: Iterable[SpecError]) -> None:
    """Raise the single error, or a SpecErrors group, if there is anything to raise."""
    errors = list(errors)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise SpecErrors(errors)
