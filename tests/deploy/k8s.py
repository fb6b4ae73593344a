"""Reading rendered Kubernetes objects: lookups, pod templates, a container's environment, label selectors."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

Obj = dict[str, Any]

#: a placeholder for values that live in Secrets (they are references, never in the manifests)
SECRET_PLACEHOLDER = {"DATABASE_URL": "postgresql://app:secret@db:5432/app"}


def of_kind(objects: list[Obj], kind: str) -> list[Obj]:
    return [o for o in objects if o["kind"] == kind]


def get(objects: list[Obj], kind: str, name: str) -> Obj | None:
    return next((o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name), None)


def name_of(o: Obj) -> str:
    return str(o["metadata"]["name"])


def workloads(objects: list[Obj]) -> Iterator[tuple[Obj, Obj]]:
    """(workload, pod template) for every Deployment and Job."""
    for o in objects:
        if o["kind"] in ("Deployment", "Job"):
            yield o, o["spec"]["template"]


def labels_match(selector: Obj, labels: dict[str, str]) -> bool:
    """A Kubernetes LabelSelector (matchLabels and matchExpressions) against a label set."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def pods_selected(objects: list[Obj], selector: Obj) -> list[tuple[Obj, Obj]]:
    return [(w, t) for w, t in workloads(objects) if labels_match(selector, t["metadata"].get("labels", {}))]


def container_env(objects: list[Obj], container: Obj) -> tuple[dict[str, str], dict[str, Obj]]:
    """The container's environment as the kubelet would build it: (literal values, valueFrom references).

    envFrom ConfigMaps are read from the rendered objects (their generated names included); a later `env`
    entry wins over envFrom, as in Kubernetes."""
    values: dict[str, str] = {}
    refs: dict[str, Obj] = {}
    for source in container.get("envFrom") or []:
        ref = source.get("configMapRef")
        assert ref is not None, f"only ConfigMaps may feed envFrom (secrets by explicit secretKeyRef): {source}"
        cm = get(objects, "ConfigMap", ref["name"])
        assert cm is not None, f"envFrom names ConfigMap {ref['name']}, which the overlay does not render"
        values.update({k: str(v) for k, v in (cm.get("data") or {}).items()})
    for entry in container.get("env") or []:
        if "valueFrom" in entry:
            refs[entry["name"]] = entry["valueFrom"]
            values.pop(entry["name"], None)
        else:
            values[entry["name"]] = str(entry.get("value", ""))
            refs.pop(entry["name"], None)
    return values, refs


def settings_env(objects: list[Obj], container: Obj) -> dict[str, str]:
    """The environment a settings class sees: literal values, with secret references given placeholders, and
    `$(NAME)` references to other variables expanded (as the kubelet does)."""
    values, refs = container_env(objects, container)
    for name, ref in refs.items():
        if "secretKeyRef" in ref:
            values[name] = SECRET_PLACEHOLDER.get(name, "placeholder-secret-value-for-validation-only")
    return {name: VARIABLE_REFERENCE.sub(lambda m: values.get(m.group(1), m.group(0)), value)
            for name, value in values.items()}


#: `$(NAME)` in an env value: the kubelet substitutes the variable NAME of the same container
VARIABLE_REFERENCE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def referenced_variables(container: Obj) -> set[str]:
    """The variables some other env entry of the container refers to as `$(NAME)`."""
    return {m.group(1) for entry in container.get("env") or [] if "value" in entry
            for m in VARIABLE_REFERENCE.finditer(str(entry["value"]))}


def container_ports(template: Obj) -> dict[str, int]:
    return {p["name"]: int(p["containerPort"]) for c in template["spec"]["containers"]
            for p in c.get("ports") or [] if "name" in p}


def resolve_target_port(service: Obj, port: int, objects: list[Obj]) -> tuple[Obj, int] | None:
    """Follow Service port → targetPort (name or number) → the container port of the pod it selects."""
    for sp in service["spec"]["ports"]:
        if int(sp["port"]) != port:
            continue
        target = sp.get("targetPort", sp["port"])
        pods = pods_selected(objects, {"matchLabels": service["spec"]["selector"]})
        for _, template in pods:
            ports = container_ports(template)
            if isinstance(target, str) and target in ports:
                return template, ports[target]
            if isinstance(target, int) and target in ports.values():
                return template, target
    return None
