"""Create resources from ``template.yaml`` so local tables are exactly the deployed ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that keeps CloudFormation short-form intrinsics (``!Ref``...) as plain data."""


def _intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        document: dict[str, Any] = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    return document


def table_properties(path: Path = TEMPLATE, logical_id: str = "Table") -> dict[str, Any]:
    resource = load_template(path)["Resources"][logical_id]
    if resource["Type"] not in ("AWS::DynamoDB::Table",):
        raise ValueError(f"{logical_id} is a {resource['Type']}, expected AWS::DynamoDB::Table")
    properties: dict[str, Any] = resource["Properties"]
    return properties


def create_table(client: Any, table_name: str, path: Path = TEMPLATE) -> None:
    """Create ``table_name`` with the keys, indexes, stream and TTL declared in the template."""
    props = table_properties(path)
    kwargs: dict[str, Any] = {
        "TableName": table_name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if props.get("GlobalSecondaryIndexes"):
        kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    if props.get("StreamSpecification"):
        kwargs["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    if props.get("SSESpecification"):
        kwargs["SSESpecification"] = {"Enabled": bool(props["SSESpecification"].get("SSEEnabled"))}
    client.create_table(**kwargs)
    client.get_waiter("table_exists").wait(
        TableName=table_name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 50}
    )
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        client.update_time_to_live(
            TableName=table_name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
        )


# --- One configuration of the template, as CloudFormation would deploy it --------------------------

_NO_VALUE = {"Ref": "AWS::NoValue"}


def parameter_values(template: dict[str, Any], given: dict[str, str]) -> dict[str, str]:
    """Every parameter's value: ``given``, else its default."""
    values = {name: str(p.get("Default", "")) for name, p in template.get("Parameters", {}).items()}
    unknown = set(given) - set(values)
    if unknown:
        raise KeyError(f"not parameters of the template: {', '.join(sorted(unknown))}")
    return {**values, **given}


def evaluate(expression: Any, values: dict[str, str], conditions: dict[str, Any]) -> Any:
    """A condition or rule expression (``Fn::Equals/Not/And/Or``, ``Condition``, ``Ref``)."""
    if isinstance(expression, dict) and len(expression) == 1:
        ((name, argument),) = expression.items()
        if name == "Ref":
            return values[argument]
        if name == "Condition":
            return evaluate(conditions[argument], values, conditions)
        if name == "Fn::Equals":
            left, right = (evaluate(a, values, conditions) for a in argument)
            return str(left) == str(right)
        if name == "Fn::Not":
            return not evaluate(argument[0], values, conditions)
        if name == "Fn::And":
            return all(evaluate(a, values, conditions) for a in argument)
        if name == "Fn::Or":
            return any(evaluate(a, values, conditions) for a in argument)
        raise ValueError(f"cannot evaluate {name} here")
    return expression


def failed_rules(template: dict[str, Any], given: dict[str, str]) -> list[str]:
    """The ``AssertDescription`` of every template rule these parameters break (CloudFormation
    refuses such a stack before creating anything)."""
    values = parameter_values(template, given)
    conditions = template.get("Conditions", {})
    failed = []
    for rule in template.get("Rules", {}).values():
        if "RuleCondition" in rule and not evaluate(rule["RuleCondition"], values, conditions):
            continue
        for assertion in rule["Assertions"]:
            if not evaluate(assertion["Assert"], values, conditions):
                failed.append(" ".join(str(assertion.get("AssertDescription", "")).split()))
    return failed


def render(template: dict[str, Any], given: dict[str, str]) -> dict[str, Any]:
    """The template for these parameter values: resources and outputs whose condition is false
    dropped, ``Fn::If`` resolved, ``AWS::NoValue`` removed, parameter defaults set to the values."""
    values = parameter_values(template, given)
    conditions = template.get("Conditions", {})
    truth = {name: bool(evaluate(expr, values, conditions)) for name, expr in conditions.items()}

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if len(node) == 1 and "Fn::If" in node:
                name, yes, no = node["Fn::If"]
                return resolve(yes if truth[name] else no)
            out = {}
            for key, value in node.items():
                resolved = resolve(value)
                if resolved != _NO_VALUE:
                    out[key] = resolved
            return out
        if isinstance(node, list):
            return [item for item in (resolve(i) for i in node) if item != _NO_VALUE]
        return node

    rendered: dict[str, Any] = {}
    for section, body in template.items():
        if section == "Conditions":
            continue
        if section in ("Resources", "Outputs"):
            kept = {}
            for name, item in body.items():
                if "Condition" in item and not truth[item["Condition"]]:
                    continue
                kept[name] = resolve({k: v for k, v in item.items() if k != "Condition"})
            rendered[section] = kept
        elif section == "Parameters":
            rendered[section] = {name: {**p, "Default": values[name]} for name, p in body.items()}
        else:
            rendered[section] = resolve(body)
    return rendered
