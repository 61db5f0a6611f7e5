"""
fleetprov.py - shared setup for the fleet-provisioning MQTT tests
(test_claim_cli.py, test_sdk_provisioning.py, test_provision_many.py): the
issue's template verbatim, the thing type and device policy it names, and
`fleetd claim create`.
"""
import json
import os
import subprocess
import tempfile

from mqtt_harness import SANITIZER_MARKERS_LIST
# tests/lib (run.py puts it on sys.path): issue 5's template, verbatim, and what it names
from sensor_template import SENSOR_TEMPLATE, create_sensor_prerequisites, sensor_policy_document

ROLE_ARN = "arn:aws:iam::123456789012:role/FleetProvisioningRole"


def setup_sensor_template(stack, name="SensorProvisioning", enabled=True):
    """The thing type, SensorDevicePolicy (once per stack) and the template
    `name` with the issue's body. Returns the template name."""
    iot = stack.client()
    if not getattr(stack, "_sensor_setup", False):
        create_sensor_prerequisites(iot, sensor_policy_document(stack.region, stack.account))
        stack._sensor_setup = True
    iot.create_provisioning_template(templateName=name, templateBody=SENSOR_TEMPLATE,
                                     provisioningRoleArn=ROLE_ARN, enabled=enabled)
    return name


def claim_cli(stack, *args, env=None, cwd=None):
    """Runs `fleetd claim ARGS...` beside the running stack; the
    CompletedProcess (stderr checked for sanitizer reports)."""
    p = subprocess.run([stack.bin, "claim"] + list(args), env=env if env is not None else stack.env,
                       capture_output=True, timeout=60, cwd=cwd or stack.data_dir)
    err = p.stderr.decode("utf-8", "replace")
    for m in SANITIZER_MARKERS_LIST:
        if m in err:
            raise AssertionError("fleetd claim: sanitizer report:\n" + err)
    return p


def make_claim(stack, template):
    """`fleetd claim create --template T --out DIR --json`: (dir, the JSON it
    printed). Raises AssertionError when it fails."""
    out = tempfile.mkdtemp(prefix="fleetd-claim-", dir=stack.files)
    p = claim_cli(stack, "create", "--template", template, "--out", out, "--force", "--json")
    if p.returncode != 0:
        raise AssertionError("fleetd claim create failed (%d): %s %s" % (p.returncode, p.stdout, p.stderr))
    return out, json.loads(p.stdout)


def claim_files(out):
    """(cert, key, ca) paths of a claim directory."""
    return tuple(os.path.join(out, n) for n in ("claim.cert.pem", "claim.private.key", "root-CA.crt"))
