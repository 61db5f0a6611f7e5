#!/usr/bin/env node
/*
 * device.js - one device session with a real AWS client, for fleetd's MQTT
 * tests (tests/mqtt/test_sdk.py). Usage: node device.js '<json>' with
 *   {"client": "sdk311" | "sdk5" | "mqttjs4" | "mqttjs5",
 *    "host", "port", "ca", "cert", "key", "clientId",
 *    "subscribe": [filter...],            subscribed (QoS 1) after connect
 *    "publish": [{"topic","payload"}...], published (QoS 1) after that
 *    "expect": N,                         messages to wait for (default 0)
 *    "timeoutMs": 8000}
 * Prints one JSON line: {"connected": bool, "error"?: string,
 *   "suback": [[codes]...], "published": n, "received": [{"topic","payload"}]}
 * and exits 0 (the caller judges the result).
 *
 * sdk311: aws-iot-device-sdk-v2 MqttClientConnection built with
 *   iot.AwsIotMqttConnectionConfigBuilder.new_mtls_builder_from_path
 *   + with_certificate_authority_from_path + with_port (the SDK's defaults
 *   otherwise: clean session false, keep-alive 1200 s, metrics username);
 * sdk5: mqtt5.Mqtt5Client via AwsIotMqtt5ClientConfigBuilder
 *   .newDirectMqttBuilderWithMtlsFromPath; mqttjs4/5: mqtt.js over mTLS.
 */
'use strict';

const fs = require('fs');

const args = JSON.parse(process.argv[2]);
const result = { client: args.client, connected: false, suback: [], published: 0, received: [] };
const want = args.expect || 0;
const timeoutMs = args.timeoutMs || 8000;

function finish(code) {
    process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(code || 0));
}

setTimeout(() => {
    result.error = result.error || 'timeout';
    finish(0);
}, timeoutMs + 2000).unref();

function waitMessages() {
    return new Promise((resolve) => {
        const t0 = Date.now();
        (function poll() {
            if (result.received.length >= want || Date.now() - t0 > timeoutMs) return resolve();
            setTimeout(poll, 20);
        })();
    });
}

function onMessage(topic, payload) {
    result.received.push({ topic, payload: Buffer.from(payload).toString('utf8') });
}

async function sdk311() {
    const { mqtt, iot } = require('aws-iot-device-sdk-v2');
    const b = iot.AwsIotMqttConnectionConfigBuilder.new_mtls_builder_from_path(args.cert, args.key);
    b.with_certificate_authority_from_path(undefined, args.ca);
    b.with_endpoint(args.host);
    b.with_port(args.port);
    b.with_client_id(args.clientId);
    const conn = new mqtt.MqttClient().new_connection(b.build());
    conn.on('error', (e) => { result.error = String(e); });
    try {
        await conn.connect();
    } catch (e) {
        result.error = String(e && e.error_name ? e.error_name : e);
        return finish(0);
    }
    result.connected = true;
    for (const f of args.subscribe || []) {
        try {
            const r = await conn.subscribe(f, mqtt.QoS.AtLeastOnce, (topic, payload) => onMessage(topic, payload));
            result.suback.push([r.error_code ? 128 : r.qos]);
        } catch (e) {
            result.suback.push([128]);
        }
    }
    for (const p of args.publish || []) {
        await conn.publish(p.topic, p.payload, mqtt.QoS.AtLeastOnce);
        result.published++;
    }
    await waitMessages();
    await conn.disconnect();
    finish(0);
}

async function sdk5() {
    const { mqtt5, iot } = require('aws-iot-device-sdk-v2');
    const b = iot.AwsIotMqtt5ClientConfigBuilder.newDirectMqttBuilderWithMtlsFromPath(args.host, args.cert, args.key);
    b.withCertificateAuthorityFromPath(undefined, args.ca);
    b.withPort(args.port);
    b.withConnectProperties({ clientId: args.clientId, keepAliveIntervalSeconds: 60 });
    const client = new mqtt5.Mqtt5Client(b.build());
    const connected = new Promise((resolve) => {
        client.on('connectionSuccess', () => resolve(true));
        client.on('connectionFailure', (ev) => {
            result.error = String(ev.error) + (ev.connack ? ' reasonCode=' + ev.connack.reasonCode : '');
            resolve(false);
        });
    });
    client.on('messageReceived', (ev) => onMessage(ev.message.topicName, ev.message.payload));
    client.start();
    if (!(await connected)) {
        client.stop();
        return finish(0);
    }
    result.connected = true;
    for (const f of args.subscribe || []) {
        const r = await client.subscribe({ subscriptions: [{ topicFilter: f, qos: mqtt5.QoS.AtLeastOnce }] });
        result.suback.push(r.reasonCodes);
    }
    for (const p of args.publish || []) {
        await client.publish({ topicName: p.topic, payload: p.payload, qos: mqtt5.QoS.AtLeastOnce });
        result.published++;
    }
    await waitMessages();
    const stopped = new Promise((resolve) => client.on('stopped', resolve));
    client.stop();
    await stopped;
    finish(0);
}

async function mqttjs(version) {
    const mqtt = require('mqtt');
    const client = mqtt.connect({
        protocol: 'mqtts', host: args.host, port: args.port, protocolVersion: version,
        clientId: args.clientId, key: fs.readFileSync(args.key), cert: fs.readFileSync(args.cert),
        ca: fs.readFileSync(args.ca), reconnectPeriod: 0, connectTimeout: timeoutMs,
    });
    client.on('message', (topic, payload) => onMessage(topic, payload));
    const ok = await new Promise((resolve) => {
        client.once('connect', () => resolve(true));
        client.once('error', (e) => { result.error = String(e); resolve(false); });
        client.once('close', () => resolve(false));
    });
    if (!ok) {
        client.end(true);
        return finish(0);
    }
    result.connected = true;
    for (const f of args.subscribe || []) {
        try {
            const granted = await client.subscribeAsync(f, { qos: 1 });
            result.suback.push(granted.map((g) => g.qos));
        } catch (e) {
            // mqtt.js 5 rejects a SUBACK failure (0x80, MQTT 5 reason codes >= 0x80)
            result.suback.push([typeof e.code === 'number' && e.code >= 128 ? e.code : 128]);
            result.subscribeError = String(e);
        }
    }
    for (const p of args.publish || []) {
        await client.publishAsync(p.topic, p.payload, { qos: 1 });
        result.published++;
    }
    await waitMessages();
    await client.endAsync();
    finish(0);
}

const run = { sdk311, sdk5, mqttjs4: () => mqttjs(4), mqttjs5: () => mqttjs(5) }[args.client];
if (!run) {
    result.error = 'unknown client ' + args.client;
    finish(2);
} else {
    run().catch((e) => {
        result.error = String(e && e.stack ? e.stack : e);
        finish(0);
    });
}
