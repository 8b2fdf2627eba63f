"""What a CloudFormation template creates for given parameter values: conditions decided, `Fn::If`,
`Fn::FindInMap`, `Fn::Join`/`Split`/`Select` and parameter `Ref`s resolved, `AWS::NoValue` dropped.

References to resources (`Ref`, `Fn::GetAtt`) and pseudo parameters stay as they are, so a test can
see which resource points at which. Enough for the contract tests; not a CloudFormation engine.
"""

from __future__ import annotations

from typing import Any

_NO_VALUE = object()


class Evaluated:
    """The resources of `template` that CloudFormation would create with `overrides` as parameters."""

    def __init__(self, template: dict[str, Any], overrides: dict[str, str] | None = None) -> None:
        self._template = template
        self.parameters = _parameter_values(template.get("Parameters", {}), overrides or {})
        self._conditions: dict[str, bool] = {}
        self.resources: dict[str, dict[str, Any]] = {}
        for logical, resource in template.get("Resources", {}).items():
            condition = resource.get("Condition")
            if condition is None or self.condition(condition):
                self.resources[logical] = self.resolve(resource)

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v["Type"] == kind}

    def props(self, logical: str) -> dict[str, Any]:
        properties: dict[str, Any] = self.resources[logical].get("Properties", {})
        return properties

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            self._conditions[name] = self._truth(self._template["Conditions"][name])
        return self._conditions[name]

    def _truth(self, node: Any) -> bool:
        (fn, args), *_ = node.items()
        if fn == "Fn::Equals":
            left, right = (self.resolve(a) for a in args)
            return bool(left == right)
        if fn == "Fn::Not":
            return not self._truth(args[0])
        if fn == "Fn::And":
            return all(self._truth(a) for a in args)
        if fn == "Fn::Or":
            return any(self._truth(a) for a in args)
        if fn == "Condition":
            return self.condition(args)
        raise ValueError(f"not a condition: {node!r}")

    def resolve(self, node: Any) -> Any:
        value = self._resolve(node)
        return None if value is _NO_VALUE else value

    def _resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            items = [self._resolve(v) for v in node]
            return [v for v in items if v is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, args), *_ = node.items()
            if key == "Ref":
                if args == "AWS::NoValue":
                    return _NO_VALUE
                return self.parameters.get(args, node)
            if key == "Fn::If":
                name, when_true, when_false = args
                return self._resolve(when_true if self.condition(name) else when_false)
            if key == "Fn::FindInMap":
                table, top, second = (self._resolve(a) for a in args)
                return self._template["Mappings"][table][str(top)][second]
            if key == "Fn::Join":
                sep, items = args[0], self._resolve(args[1])
                if isinstance(items, list) and all(isinstance(i, str) for i in items):
                    return sep.join(items)
                return {key: [sep, items]}
            if key == "Fn::Split":
                sep, text = args[0], self._resolve(args[1])
                if isinstance(text, str):
                    return text.split(sep)
                joined = text.get("Fn::Join") if isinstance(text, dict) else None
                if joined and joined[0] == sep:  # split(join(items)): the items, with strings split too
                    return [p for i in joined[1] for p in (i.split(sep) if isinstance(i, str) else [i])]
                return {key: [sep, text]}
            if key == "Fn::Select":
                index, items = (self._resolve(a) for a in args)
                return items[int(index)] if isinstance(items, list) else {key: [index, items]}
        resolved = {k: self._resolve(v) for k, v in node.items()}
        return {k: v for k, v in resolved.items() if v is not _NO_VALUE}


def _parameter_values(declared: dict[str, Any], overrides: dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        raw = overrides.get(name, spec.get("Default"))
        if raw is None:
            continue
        if spec.get("Type") == "CommaDelimitedList":
            values[name] = [item.strip() for item in str(raw).split(",")]
        elif spec.get("Type") == "Number":
            values[name] = int(raw)
        else:
            values[name] = str(raw)
    unknown = set(overrides) - set(declared)
    if unknown:
        raise KeyError(f"no such parameters: {sorted(unknown)}")
    return values
