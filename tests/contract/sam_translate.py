"""Translate a SAM template to CloudFormation JSON (run with the tools venv's Python, not the project's).

Usage: .venv-tools/bin/python tests/contract/sam_translate.py template.yaml > translated.json
No AWS call is made: the managed policy map is empty (the template names no managed policy by name).
Local code paths are replaced by S3 URIs first, as `sam validate` and `sam package` do.
"""

import json
import sys

import boto3
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.yaml_helper import yaml_parse


def main(path: str) -> None:
    with open(path, encoding="utf-8") as handle:
        template = yaml_parse(handle.read())
    for logical, resource in template.get("Resources", {}).items():
        props = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(props.get(key), str) and not props[key].startswith("s3://"):
                props[key] = f"s3://testgenie-artifacts/{logical}.zip"
    translator = Translator(
        managed_policy_map={},
        sam_parser=Parser(),
        boto_session=boto3.Session(region_name="us-east-1"),
    )
    translated = translator.translate(
        sam_template=template, parameter_values={}, get_managed_policy_map=lambda: {}
    )
    json.dump(translated, sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    main(sys.argv[1])
