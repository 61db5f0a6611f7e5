#!/usr/bin/env node
/*
 * provision.js - one device's first boot with the AWS IoT Device SDK v2 for
 * JavaScript, the way AWS's fleet-provisioning sample runs it, for fleetd's
 * MQTT tests (tests/mqtt/test_sdk_provisioning.py). Usage:
 *   node provision.js '<json>' with
 *   {"client": "sdk5" | "sdk311",          the MQTT client under IotIdentityClientv2
 *    "host", "port", "ca",
 *    "claimCert", "claimKey",              from `fleetd claim create`
 *    "claimClientId",                      client id while provisioning (any: the claim allows it)
 *    "mode": "csr" | "keys",               createCertificateFromCsr (EC P-256 CSR from the
 *                                          openssl CLI) or createKeysAndCertificate
 *    "templateName", "parameters": {...},
 *    "outDir",                             the new certificate and key are written there
 *    "forgedToken": bool,                  first call registerThing with a forged token
 *                                          (its rejection is reported, then the real one)
 *    "timeoutMs": 20000}
 * Then it reconnects with the new certificate as the thing RegisterThing
 * named, subscribes to things/<thing>/#, publishes on things/<thing>/telemetry
 * and waits for its own message. Prints one JSON line:
 *   {"steps": [names of the steps that completed], "certificateId",
 *    "thingName", "deviceConfiguration", "forgedRejection"?, "suback",
 *    "received": [{"topic","payload"}], "certFile", "keyFile", "error"?}
 * and exits 0 (the caller judges the result).
 */
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');
const { mqtt, mqtt5, iot, iotidentity } = require('aws-iot-device-sdk-v2');

const args = JSON.parse(process.argv[2]);
const timeoutMs = args.timeoutMs || 20000;
const result = { client: args.client, mode: args.mode, steps: [], suback: [], received: [] };

function finish() {
    process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(0));
}

setTimeout(() => {
    result.error = result.error || 'timeout after steps ' + result.steps.join(',');
    finish();
}, timeoutMs + 5000).unref();

function errText(e) {
    if (e && e.modeledError) return JSON.stringify(e.modeledError);
    if (e && e.error_name) return e.error_name;
    return String(e && e.stack ? e.stack : e);
}

/* A connected transport: {kind, client, close()} (mTLS with cert/key). */
async function connect(cert, key, clientId) {
    if (args.client === 'sdk311') {
        const b = iot.AwsIotMqttConnectionConfigBuilder.new_mtls_builder_from_path(cert, key);
        b.with_certificate_authority_from_path(undefined, args.ca);
        b.with_endpoint(args.host);
        b.with_port(args.port);
        b.with_client_id(clientId);
        b.with_clean_session(true);
        const conn = new mqtt.MqttClient().new_connection(b.build());
        conn.on('error', () => {});
        await conn.connect();
        return {
            kind: '311',
            client: conn,
            subscribe: async (f, onMsg) => {
                const r = await conn.subscribe(f, mqtt.QoS.AtLeastOnce, (t, p) => onMsg(t, p));
                return [r.error_code ? 128 : r.qos];
            },
            publish: (t, p) => conn.publish(t, p, mqtt.QoS.AtLeastOnce),
            close: () => conn.disconnect(),
        };
    }
    const b = iot.AwsIotMqtt5ClientConfigBuilder.newDirectMqttBuilderWithMtlsFromPath(args.host, cert, key);
    b.withCertificateAuthorityFromPath(undefined, args.ca);
    b.withPort(args.port);
    b.withConnectProperties({ clientId, keepAliveIntervalSeconds: 60 });
    const client = new mqtt5.Mqtt5Client(b.build());
    const handlers = [];
    client.on('messageReceived', (ev) => handlers.forEach((h) => h(ev.message.topicName, ev.message.payload)));
    const ok = await new Promise((resolve) => {
        client.on('connectionSuccess', () => resolve(true));
        client.on('connectionFailure', (ev) => {
            result.lastConnectFailure = String(ev.error) + (ev.connack ? ' reasonCode=' + ev.connack.reasonCode : '');
            resolve(false);
        });
        client.start();
    });
    if (!ok) {
        client.stop();
        throw new Error('connection refused: ' + result.lastConnectFailure);
    }
    return {
        kind: '5',
        client,
        subscribe: async (f, onMsg) => {
            handlers.push(onMsg);
            const r = await client.subscribe({ subscriptions: [{ topicFilter: f, qos: mqtt5.QoS.AtLeastOnce }] });
            return r.reasonCodes;
        },
        publish: (t, p) => client.publish({ topicName: t, payload: p, qos: mqtt5.QoS.AtLeastOnce }),
        close: () => new Promise((resolve) => {
            client.on('stopped', resolve);
            client.stop();
        }),
    };
}

function identityClient(t) {
    const options = { maxRequestResponseSubscriptions: 4, maxStreamingSubscriptions: 2, operationTimeoutInSeconds: 15 };
    return t.kind === '311'
        ? iotidentity.IotIdentityClientv2.newFromMqtt311(t.client, options)
        : iotidentity.IotIdentityClientv2.newFromMqtt5(t.client, options);
}

/* An EC P-256 key and a CSR for it, made with the openssl CLI. */
function makeCsr(dir) {
    const key = path.join(dir, 'device.private.key');
    const csr = path.join(dir, 'device.csr');
    execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
        '-keyout', key, '-subj', '/CN=' + (args.parameters.SerialNumber || 'device'), '-out', csr],
    { stdio: 'ignore' });
    fs.chmodSync(key, 0o600);
    return { key, csr: fs.readFileSync(csr, 'utf8') };
}

async function main() {
    const dir = args.outDir || fs.mkdtempSync(path.join(os.tmpdir(), 'provision-'));
    fs.mkdirSync(dir, { recursive: true });

    // 1. first boot: the claim certificate
    const claim = await connect(args.claimCert, args.claimKey, args.claimClientId);
    result.steps.push('claim-connected');
    const identity = identityClient(claim);
    let created;
    let keyFile;
    try {
        if (args.mode === 'keys') {
            created = await identity.createKeysAndCertificate({});
            keyFile = path.join(dir, 'device.private.key');
            fs.writeFileSync(keyFile, created.privateKey, { mode: 0o600 });
            result.steps.push('createKeysAndCertificate');
        } else {
            const made = makeCsr(dir);
            keyFile = made.key;
            created = await identity.createCertificateFromCsr({ certificateSigningRequest: made.csr });
            result.steps.push('createCertificateFromCsr');
        }
        result.certificateId = created.certificateId;
        result.hasToken = typeof created.certificateOwnershipToken === 'string' &&
            created.certificateOwnershipToken.length > 0;
        const certFile = path.join(dir, 'device.cert.pem');
        fs.writeFileSync(certFile, created.certificatePem);
        result.certFile = certFile;
        result.keyFile = keyFile;

        if (args.forgedToken) {
            try {
                await identity.registerThing({
                    templateName: args.templateName, parameters: args.parameters,
                    certificateOwnershipToken: created.certificateOwnershipToken.slice(0, -4) + 'AAAA',
                });
                result.forgedRejection = null;
            } catch (e) {
                result.forgedRejection = e && e.modeledError ? e.modeledError : { error: errText(e) };
            }
        }

        // 2. the template makes the thing and activates the certificate
        const reg = await identity.registerThing({
            templateName: args.templateName, parameters: args.parameters,
            certificateOwnershipToken: created.certificateOwnershipToken,
        });
        result.thingName = reg.thingName;
        result.deviceConfiguration = reg.deviceConfiguration;
        result.steps.push('registerThing');
    } finally {
        identity.close();
        await claim.close();
    }
    result.steps.push('claim-disconnected');

    // 3. the device from now on: its own certificate, client id = thing name
    const dev = await connect(result.certFile, keyFile, result.thingName);
    result.steps.push('device-connected');
    const topic = 'things/' + result.thingName + '/telemetry';
    const payload = JSON.stringify({ serial: args.parameters.SerialNumber, temperature: 21.5 });
    result.suback = await dev.subscribe('things/' + result.thingName + '/#', (t, p) => {
        result.received.push({ topic: t, payload: Buffer.from(p).toString('utf8') });
    });
    await dev.publish(topic, payload);
    result.steps.push('published');
    const t0 = Date.now();
    while (result.received.length === 0 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 20));
    await dev.close();
    result.steps.push('device-disconnected');
}

main().then(finish).catch((e) => {
    result.error = errText(e);
    finish();
});
