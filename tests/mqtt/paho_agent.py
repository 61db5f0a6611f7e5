#!/usr/bin/python3
"""
paho_agent.py - one paho-mqtt client driven over stdin/stdout, so that the
MQTT tests (which run under a Python that has boto3 but no paho) can use
Debian's python3-paho-mqtt 1.6 (/usr/bin/python3).

Usage: paho_agent.py JSON
  JSON = {"host","port","ca","cert","key","client_id",
          "protocol": 4 (3.1.1, default) | 5, "clean": true, "keepalive": 60,
          "username": null}

Commands, one JSON object per line on stdin:
  {"op":"connect"}                               -> {"ev":"connack","rc":N} or {"ev":"connect_error","error":...}
  {"op":"subscribe","topic":T,"qos":Q}           -> {"ev":"suback","topic":T,"granted":[codes]}
  {"op":"unsubscribe","topic":T}                 -> {"ev":"unsuback","topic":T}
  {"op":"publish","topic":T,"payload":S,"qos":Q,"retain":B,"b64":B}
                                                 -> {"ev":"published","topic":T,"mid":N} (QoS>0: after the ack)
  {"op":"disconnect"}                            -> {"ev":"disconnect","rc":N}
  {"op":"quit"}                                  (exits)
Events the broker causes:
  {"ev":"message","topic","payload" (text, or base64 with "b64":true),"qos","retain"}
  {"ev":"disconnect","rc":N}                     (rc != 0: not asked for)
Every event carries "t" (time.monotonic() of this process is meaningless to
the caller, so "t" is time.time()).
"""
import base64
import json
import ssl
import sys
import threading
import time

import paho.mqtt.client as mqtt

OUT_LOCK = threading.Lock()


def emit(**ev):
    ev["t"] = time.time()
    with OUT_LOCK:
        sys.stdout.write(json.dumps(ev) + "\n")
        sys.stdout.flush()


def code(rc):
    """An int from paho's rc / ReasonCodes (v5) values."""
    if isinstance(rc, int):
        return rc
    v = getattr(rc, "value", None)
    if isinstance(v, int):
        return v
    try:
        return int(rc)
    except (TypeError, ValueError):
        return -1


def main():
    cfg = json.loads(sys.argv[1])
    v5 = cfg.get("protocol", 4) == 5
    proto = mqtt.MQTTv5 if v5 else mqtt.MQTTv311
    # no automatic reconnect: it would hide disconnects from the tests
    if v5:
        c = mqtt.Client(client_id=cfg["client_id"], protocol=proto, reconnect_on_failure=False)
    else:
        c = mqtt.Client(client_id=cfg["client_id"], clean_session=cfg.get("clean", True), protocol=proto,
                        reconnect_on_failure=False)
    if cfg.get("username"):
        c.username_pw_set(cfg["username"], cfg.get("password"))
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cfg["ca"])
    ctx.load_cert_chain(cfg["cert"], cfg["key"])
    ctx.check_hostname = cfg.get("check_hostname", True)
    c.tls_set_context(ctx)
    pending_subs = {}
    pending_pubs = {}
    lock = threading.Lock()

    def on_connect(client, userdata, flags, rc, properties=None):
        emit(ev="connack", rc=code(rc), session_present=bool(flags.get("session present", 0)))

    def on_disconnect(client, userdata, rc, properties=None):
        emit(ev="disconnect", rc=code(rc))

    def on_message(client, userdata, msg):
        try:
            text = msg.payload.decode("utf-8")
            emit(ev="message", topic=msg.topic, payload=text, qos=msg.qos, retain=bool(msg.retain))
        except UnicodeDecodeError:
            emit(ev="message", topic=msg.topic, payload=base64.b64encode(msg.payload).decode(), b64=True,
                 qos=msg.qos, retain=bool(msg.retain))

    def on_subscribe(client, userdata, mid, granted, properties=None):
        with lock:
            topic = pending_subs.pop(mid, None)
        emit(ev="suback", topic=topic, granted=[code(g) for g in granted])

    def on_unsubscribe(client, userdata, mid, *rest):
        with lock:
            topic = pending_subs.pop(mid, None)
        emit(ev="unsuback", topic=topic)

    def on_publish(client, userdata, mid):
        with lock:
            topic = pending_pubs.pop(mid, None)
        if topic is not None:
            emit(ev="published", topic=topic, mid=mid)

    c.on_connect = on_connect
    c.on_disconnect = on_disconnect
    c.on_message = on_message
    c.on_subscribe = on_subscribe
    c.on_unsubscribe = on_unsubscribe
    c.on_publish = on_publish
    started = False

    thread_main = c._thread_main

    def run_loop():
        # paho 1.6's loop thread dies on an SSLError raised by a TLS alert that
        # arrives after connect() returned (TLS 1.3: the server checks the
        # client certificate after the client's handshake is done), without
        # calling on_disconnect: report it as a disconnect. (Wrapping the
        # thread's body keeps loop_start's threading: paho only wakes its
        # own loop thread when c._thread is set.)
        try:
            thread_main()
        except Exception as e:  # noqa: BLE001
            emit(ev="disconnect", rc=-1, error="%s: %s" % (type(e).__name__, e))

    c._thread_main = run_loop

    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        cmd = json.loads(line)
        op = cmd.get("op")
        try:
            if op == "connect":
                try:
                    if v5:
                        c.connect(cfg["host"], cfg["port"], keepalive=cfg.get("keepalive", 60),
                                  clean_start=cfg.get("clean", True))
                    else:
                        c.connect(cfg["host"], cfg["port"], keepalive=cfg.get("keepalive", 60))
                except (OSError, ssl.SSLError) as e:
                    emit(ev="connect_error", error="%s: %s" % (type(e).__name__, e))
                    continue
                if not started:
                    c.loop_start()
                    started = True
            elif op == "subscribe":
                with lock:
                    rc, mid = c.subscribe(cmd["topic"], cmd.get("qos", 0))
                    pending_subs[mid] = cmd["topic"]
                if rc != mqtt.MQTT_ERR_SUCCESS:
                    emit(ev="error", op=op, rc=rc)
            elif op == "unsubscribe":
                with lock:
                    rc, mid = c.unsubscribe(cmd["topic"])
                    pending_subs[mid] = cmd["topic"]
            elif op == "publish":
                payload = cmd.get("payload", "")
                payload = base64.b64decode(payload) if cmd.get("b64") else payload.encode()
                qos = cmd.get("qos", 0)
                with lock:
                    info = c.publish(cmd["topic"], payload, qos=qos, retain=cmd.get("retain", False))
                    if qos > 0:
                        pending_pubs[info.mid] = cmd["topic"]
                if info.rc != mqtt.MQTT_ERR_SUCCESS:
                    emit(ev="error", op=op, rc=info.rc)
                elif qos == 0:
                    emit(ev="published", topic=cmd["topic"], mid=info.mid)
            elif op == "disconnect":
                c.disconnect()
            elif op == "quit":
                break
        except Exception as e:  # noqa: BLE001 - report, never die silently
            emit(ev="error", op=op, error="%s: %s" % (type(e).__name__, e))
    try:
        c.disconnect()
    except Exception:  # noqa: BLE001
        pass
    if started:
        c.loop_stop()


if __name__ == "__main__":
    main()
