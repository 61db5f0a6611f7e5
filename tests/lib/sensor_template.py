"""
sensor_template.py - issue 5's fleet-provisioning template, verbatim (our
users' guide), and what it names: thing type EnvironmentalSensor and policy
SensorDevicePolicy. One copy for the tests (tests/integration, tests/mqtt)
and the first-boot bench (bench/firstboot_setup.py). Standard library only:
it loads under any interpreter the suites and the bench use.
"""
import json

# device-<SerialNumber>, thing type EnvironmentalSensor, policy
# SensorDevicePolicy, certificate ACTIVE
SENSOR_TEMPLATE = """{"Parameters": {"SerialNumber": {"Type": "String"}, "HardwareRevision": {"Type": "String"},
                "AWS::IoT::Certificate::Id": {"Type": "String"}},
 "Resources": {
  "thing": {"Type": "AWS::IoT::Thing", "Properties": {
     "ThingName": {"Fn::Join": ["-", ["device", {"Ref": "SerialNumber"}]]},
     "ThingTypeName": "EnvironmentalSensor",
     "AttributePayload": {"hwRevision": {"Ref": "HardwareRevision"}, "firmwareVersion": "1.0.0"}}},
  "certificate": {"Type": "AWS::IoT::Certificate", "Properties": {
     "CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}, "Status": "ACTIVE"}},
  "policy": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyName": "SensorDevicePolicy"}}}}"""

SENSOR_THING_TYPE = "EnvironmentalSensor"
SENSOR_POLICY = "SensorDevicePolicy"

_THING = "${iot:Connection.Thing.ThingName}"


def sensor_policy_document(region, account):
    """SensorDevicePolicy's document (JSON text): connect as the thing's own
    name; publish, receive and subscribe under things/<thing name>/."""
    arn = f"arn:aws:iot:{region}:{account}"
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iot:Connect", "Resource": f"{arn}:client/{_THING}"},
        {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"], "Resource": f"{arn}:topic/things/{_THING}/*"},
        {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": f"{arn}:topicfilter/things/{_THING}/*"},
    ]})


def create_sensor_prerequisites(iot, policy_document):
    """Creates what the template names, through the boto3 IoT client iot:
    thing type EnvironmentalSensor and policy SensorDevicePolicy with
    policy_document (JSON text, e.g. sensor_policy_document(...))."""
    iot.create_thing_type(thingTypeName=SENSOR_THING_TYPE)
    iot.create_policy(policyName=SENSOR_POLICY, policyDocument=policy_document)
