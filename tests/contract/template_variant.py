"""Write template.yaml as JSON with other parameter defaults, for linters that take no parameter values.

Usage (tools venv): .venv-tools/bin/python tests/contract/template_variant.py template.yaml OUT.json \
    SubnetIds=subnet-0a,subnet-0b VpcId=vpc-0test ...
`sam validate --lint` has no parameter option; a variant whose defaults are the values lints the
template as a deploy with those values would see it (make validate, tests/contract).
"""

import json
import sys

from samtranslator.yaml_helper import yaml_parse

NETWORK = {
    "SubnetIds": "subnet-0a,subnet-0b",
    "SecurityGroupIds": "sg-0database",
    "VpcId": "vpc-0test",
    "PrivateRouteTableIds": "rtb-0a,rtb-0b",
    "CreateVpcEndpoints": "true",
    "DatabaseSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf",
    "DatabaseProxyEndpoint": "testgenie.proxy-abc.us-east-1.rds.amazonaws.com",
}


def main(source: str, out: str, pairs: list[str]) -> None:
    with open(source, encoding="utf-8") as handle:
        template = yaml_parse(handle.read())
    values = dict(NETWORK) if pairs == ["network"] else dict(p.split("=", 1) for p in pairs)
    for name, value in values.items():
        template["Parameters"][name]["Default"] = value
    with open(out, "w", encoding="utf-8") as handle:
        json.dump(template, handle, indent=1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
