"""TLS session tickets at the broker (broker_tls_session_tickets), seen by
Python's ssl module as a device's TLS stack sees them: off (the default, as
on AWS IoT) no ticket arrives and a reconnect is a full handshake; on, the
reconnect resumes the session, and the plugin still knows the device by the
certificate the session carries (and refuses it once that certificate is
no longer ACTIVE)."""
import socket
import ssl
import struct

from mqtt_harness import StackTestCase


def mqtt_connect_packet(client_id):
    cid = client_id.encode()
    var = b"\x00\x04MQTT\x04\x02\x00\x3c" + struct.pack("!H", len(cid)) + cid
    assert len(var) < 128
    return bytes([0x10, len(var)]) + var


def read_exact(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


class Tickets:
    """Mixin: one MQTT 3.1.1 connection over a raw TLS socket."""

    def context(self, device):
        ctx = ssl.create_default_context(cafile=self.stack.root_ca)
        ctx.load_cert_chain(device.cert_file, device.key_file)
        return ctx

    def session(self, ctx, device, session=None):
        """Connects (resuming session when given); returns (CONNACK bytes,
        the TLS session after the CONNACK, whether it was resumed)."""
        raw = socket.create_connection(("127.0.0.1", self.stack.mqtt_port), timeout=10)
        with ctx.wrap_socket(raw, server_hostname=self.stack.mqtt_host, session=session) as s:
            s.sendall(mqtt_connect_packet(device.name))
            # TLS 1.3 tickets come after the handshake: reading the CONNACK
            # processes any that were sent before it
            connack = read_exact(s, 4)
            reused = s.session_reused
            sess = s.session
            if connack == b"\x20\x02\x00\x00":
                s.sendall(b"\xe0\x00")
        return connack, sess, reused


class TicketsOffTest(Tickets, StackTestCase):

    def test_no_ticket_and_no_resumption(self):
        d = self.stack.device(policies=[self.own_policy()])
        ctx = self.context(d)
        connack, sess, reused = self.session(ctx, d)
        self.assertEqual(connack, b"\x20\x02\x00\x00")
        self.assertFalse(reused)
        self.assertFalse(sess is not None and sess.has_ticket, "the broker sent a TLS session ticket")
        connack, _, reused = self.session(ctx, d, session=sess)
        self.assertEqual(connack, b"\x20\x02\x00\x00")
        self.assertFalse(reused, "the second connection resumed a session")
        with open(self.stack.broker_dir + "/openssl.cnf") as f:
            self.assertIn("NumTickets = 0", f.read())


class TicketsOnTest(Tickets, StackTestCase):
    server_env = {"FLEETD_BROKER_TLS_SESSION_TICKETS": "on"}

    def test_resumed_session_is_still_the_device(self):
        d = self.stack.device(policies=[self.own_policy()])
        ctx = self.context(d)
        connack, sess, reused = self.session(ctx, d)
        self.assertEqual(connack, b"\x20\x02\x00\x00")
        self.assertTrue(sess is not None and sess.has_ticket, "no TLS session ticket with tickets on")
        connack, sess2, reused = self.session(ctx, d, session=sess)
        self.assertTrue(reused, "the second connection did not resume the session")
        self.assertEqual(connack, b"\x20\x02\x00\x00", "a resumed session is refused")
        # the certificate is deactivated: a session resumed with it is refused too
        self.iot.update_certificate(certificateId=d.cert_id, newStatus="INACTIVE")
        connack, _, reused = self.session(ctx, d, session=sess2)
        self.assertTrue(reused)
        self.assertNotEqual(connack, b"\x20\x02\x00\x00",
                            "an INACTIVE certificate got in through a resumed TLS session")
