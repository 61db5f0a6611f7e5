"""Policies as ACLs: publish, subscribe and receive, own topics vs another
device's, thing-name variables, explicit deny, group-inherited allows."""
import time

from mqtt_harness import StackTestCase

QUIET = 0.6  # how long "nothing arrives" is watched


def refused_suback(granted):
    return granted is not None and all(g >= 0x80 for g in granted)


class PolicyMatrixTest(StackTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.own = cls.stack.policy([
            {"Effect": "Allow", "Action": "iot:Connect", "Resource": "ARN:client/${iot:Connection.Thing.ThingName}"},
            {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"],
             "Resource": ["ARN:topic/things/${iot:Connection.Thing.ThingName}/*"]},
            {"Effect": "Allow", "Action": "iot:Subscribe",
             "Resource": ["ARN:topicfilter/things/${iot:Connection.Thing.ThingName}/*"]},
            {"Effect": "Deny", "Action": ["iot:Publish", "iot:Receive", "iot:Subscribe"],
             "Resource": ["ARN:topic/things/${iot:Connection.Thing.ThingName}/secret",
                          "ARN:topicfilter/things/${iot:Connection.Thing.ThingName}/secret"]},
        ])
        # may subscribe to every device's topics, but receive only its own
        cls.wide_sub = cls.stack.policy([
            {"Effect": "Allow", "Action": "iot:Connect", "Resource": "ARN:client/${iot:Connection.Thing.ThingName}"},
            {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": "ARN:topicfilter/things/*"},
            {"Effect": "Allow", "Action": "iot:Receive", "Resource": "ARN:topic/things/${iot:Connection.Thing.ThingName}/*"},
        ])

    def setUp(self):
        self.a = self.stack.device(policies=[self.own])
        self.b = self.stack.device(policies=[self.own])
        self.obs = self.stack.observer("things/#")

    def test_own_topics_allowed(self):
        ca = self.connect(self.a)
        self.assertEqual(ca.subscribe("things/%s/cmd" % self.a.name, qos=1), [1])
        t = "things/%s/telemetry" % self.a.name
        self.assertTrue(ca.publish(t, "t1", qos=1))
        self.assertIsNotNone(self.obs.wait_message(t), "the observer did not see the device's own publish")
        # what fleetd publishes to the device's topic reaches it
        self.stack.data.publish(topic="things/%s/cmd" % self.a.name, qos=1, payload=b"go")
        m = ca.wait_message("things/%s/cmd" % self.a.name)
        self.assertIsNotNone(m, "own topic not received")
        self.assertEqual(m["payload"], "go")

    def test_publish_to_other_device_refused(self):
        ca = self.connect(self.a)
        other = "things/%s/telemetry" % self.b.name
        ca.publish(other, "intrusion", qos=1)
        ca.publish(other, "intrusion0", qos=0)
        mine = "things/%s/telemetry" % self.a.name
        self.assertTrue(ca.publish(mine, "marker", qos=1))
        self.assertIsNotNone(self.obs.wait_message(mine))
        got = [m for m in self.obs.drain(QUIET) if m["topic"] == other]
        self.assertEqual(got, [], "a publish on another device's topic was routed")

    def test_subscribe_to_other_device_refused(self):
        ca = self.connect(self.a)
        for proto_filter in ("things/%s/cmd" % self.b.name, "things/%s/#" % self.b.name, "things/#", "#"):
            with self.subTest(filter=proto_filter):
                granted = ca.subscribe(proto_filter, qos=1)
                self.assertTrue(refused_suback(granted), "SUBACK for %s: %r" % (proto_filter, granted))
        c5 = self.stack.paho(self.b, protocol=5)
        self.assertAccepted(c5.connect())
        granted = c5.subscribe("things/%s/cmd" % self.a.name, qos=1)
        self.assertTrue(refused_suback(granted), "MQTT 5 SUBACK: %r" % granted)

    def test_receive_from_other_device_refused(self):
        w = self.stack.device(policies=[self.wide_sub])
        cw = self.connect(w)
        self.assertEqual(cw.subscribe("things/+/cmd", qos=1), [1])
        for target in (self.a.name, w.name):
            self.stack.data.publish(topic="things/%s/cmd" % target, qos=1, payload=target.encode())
        m = cw.wait_message()
        self.assertIsNotNone(m, "own topic not received through the wildcard subscription")
        self.assertEqual(m["topic"], "things/%s/cmd" % w.name)
        self.assertEqual([x for x in cw.drain(QUIET) if x["topic"] != "things/%s/cmd" % w.name], [],
                         "received another device's topic")

    def test_thing_name_variable_resolved(self):
        # the same policy gives each device its own topics only
        ca, cb = self.connect(self.a), self.connect(self.b)
        self.assertEqual(cb.subscribe("things/%s/#" % self.b.name, qos=1), [1])
        self.assertTrue(refused_suback(ca.subscribe("things/%s/#" % self.b.name, qos=1)))
        self.assertTrue(ca.publish("things/%s/x" % self.a.name, "from-a"))
        self.assertTrue(ca.publish("things/%s/x" % self.b.name, "a-into-b"))
        self.assertIsNone(cb.wait_message(payload="a-into-b", timeout=QUIET))
        # a client id that is not the thing name resolves nothing: no connect
        self.assertRefused(self.stack.paho(self.a, client_id="not-" + self.a.name).connect())

    def test_explicit_deny_wins(self):
        ca = self.connect(self.a)
        secret = "things/%s/secret" % self.a.name
        self.assertTrue(refused_suback(ca.subscribe(secret, qos=1)), "subscribe to the denied topic")
        self.assertTrue(ca.publish(secret, "leak", qos=1))
        self.assertTrue(ca.publish("things/%s/open" % self.a.name, "marker", qos=1))
        self.assertIsNotNone(self.obs.wait_message("things/%s/open" % self.a.name))
        self.assertEqual([m for m in self.obs.drain(QUIET) if m["topic"] == secret], [], "denied publish routed")
        # receive: the # subscription is allowed, the secret topic is not delivered
        self.assertEqual(ca.subscribe("things/%s/#" % self.a.name, qos=1), [1])
        self.stack.data.publish(topic=secret, qos=1, payload=b"s")
        self.stack.data.publish(topic="things/%s/open" % self.a.name, qos=1, payload=b"o")
        m = ca.wait_message("things/%s/open" % self.a.name)
        self.assertIsNotNone(m)
        self.assertEqual([x for x in ca.drain(QUIET) if x["topic"] == secret], [], "denied topic received")

    def test_group_inherited_allow(self):
        grp = "fleet-" + self.a.name
        gpol = self.stack.policy([
            {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"], "Resource": "ARN:topic/fleet/broadcast"},
            {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": "ARN:topicfilter/fleet/broadcast"},
        ])
        parent = self.iot.create_thing_group(thingGroupName=grp + "-root")
        self.iot.create_thing_group(thingGroupName=grp, parentGroupName=grp + "-root")
        self.iot.attach_policy(policyName=gpol, target=parent["thingGroupArn"])
        self.iot.add_thing_to_thing_group(thingGroupName=grp, thingName=self.a.name)
        ca, cb = self.connect(self.a), self.connect(self.b)
        self.assertEqual(ca.subscribe("fleet/broadcast", qos=1), [1], "allowed by the parent group's policy")
        self.assertTrue(refused_suback(cb.subscribe("fleet/broadcast", qos=1)), "b is in no group")
        self.assertTrue(ca.publish("fleet/broadcast", "hello-fleet", qos=1))
        self.assertIsNotNone(ca.wait_message("fleet/broadcast", payload="hello-fleet"))


class PolicyChangeTest(StackTestCase):
    """Changes take effect within a second while devices stay connected."""

    def test_detach_and_attach_recompile(self):
        base = self.stack.policy([
            {"Effect": "Allow", "Action": "iot:Connect", "Resource": "ARN:client/${iot:Connection.Thing.ThingName}"},
            {"Effect": "Allow", "Action": ["iot:Subscribe"], "Resource": "ARN:topicfilter/news/*"},
        ])
        extra = self.stack.policy([
            {"Effect": "Allow", "Action": ["iot:Receive"], "Resource": "ARN:topic/news/*"},
        ])
        d = self.stack.device(policies=[base])
        c = self.connect(d)
        self.assertEqual(c.subscribe("news/#", qos=1), [1])
        self.stack.data.publish(topic="news/1", qos=1, payload=b"1")
        self.assertIsNone(c.wait_message("news/1", timeout=QUIET), "received without iot:Receive")
        self.iot.attach_policy(policyName=extra, target=d.cert_arn)
        deadline = time.time() + 3
        got = None
        n = 0
        while time.time() < deadline and got is None:
            n += 1
            self.stack.data.publish(topic="news/2", qos=1, payload=str(n).encode())
            got = c.wait_message("news/2", timeout=0.25)
        self.assertIsNotNone(got, "AttachPolicy did not reach the connected device")
        self.assertLess(n, 6, "AttachPolicy took more than a second to apply")
        self.iot.detach_policy(policyName=extra, target=d.cert_arn)
        time.sleep(1.0)
        c.drain()
        self.stack.data.publish(topic="news/3", qos=1, payload=b"3")
        self.assertIsNone(c.wait_message("news/3", timeout=QUIET), "DetachPolicy did not apply within 1 s")
        self.assertIsNone(c.wait_disconnect(0.1), "a policy change must not disconnect the device")

    def test_new_policy_version_applies(self):
        doc1 = [
            {"Effect": "Allow", "Action": "iot:Connect", "Resource": "ARN:client/${iot:Connection.Thing.ThingName}"},
            {"Effect": "Allow", "Action": ["iot:Subscribe", "iot:Receive"],
             "Resource": ["ARN:topicfilter/v/*", "ARN:topic/v/one"]},
        ]
        name = self.stack.policy(doc1)
        d = self.stack.device(policies=[name])
        c = self.connect(d)
        self.assertEqual(c.subscribe("v/#", qos=1), [1])
        self.stack.data.publish(topic="v/two", qos=1, payload=b"x")
        self.assertIsNone(c.wait_message("v/two", timeout=QUIET))
        import json
        prefix = "arn:aws:iot:%s:%s:" % (self.stack.region, self.stack.account)
        doc2 = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "iot:Connect", "Resource": prefix + "client/${iot:Connection.Thing.ThingName}"},
            {"Effect": "Allow", "Action": ["iot:Subscribe", "iot:Receive"],
             "Resource": [prefix + "topicfilter/v/*", prefix + "topic/v/*"]}]}
        self.iot.create_policy_version(policyName=name, policyDocument=json.dumps(doc2), setAsDefault=True)
        time.sleep(1.0)
        self.stack.data.publish(topic="v/two", qos=1, payload=b"y")
        self.assertIsNotNone(c.wait_message("v/two", timeout=2), "the new default version did not apply within 1 s")
