#!/usr/bin/env node
/*
 * provision_many.js - N devices provisioning at once over the fleet
 * provisioning MQTT API, all with the same claim certificate, for fleetd's
 * MQTT tests (tests/mqtt/test_provision_many.py). mqtt.js 5 (MQTT 3.1.1),
 * one process, one TLS connection per device. Usage:
 *   node provision_many.js '<json>' with
 *   {"host", "port", "ca", "claimCert", "claimKey", "templateName",
 *    "count": N, "serialPrefix": "mass-", "clientPrefix": "claim-",
 *    "hardwareRevision": "r1", "timeoutMs": 45000}
 * Each device: connect with the claim (client id clientPrefix<i>), subscribe
 * to the create-from-csr and provision accepted/rejected topics; once all N
 * are ready, all at once: create-from-csr with its own EC P-256 CSR (built
 * here with node's crypto), then provision with SerialNumber
 * serialPrefix<i>. Prints one JSON line:
 *   {"count", "ready", "provisioned", "readySeconds", "provisionSeconds",
 *    "devices": [{"i","clientId","certificateId","thingName","error"?}]}
 * and exits 0 (the caller judges).
 */
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const mqtt = require('mqtt');

const args = JSON.parse(process.argv[2]);
const N = args.count || 200;
const timeoutMs = args.timeoutMs || 45000;
const T = args.templateName;
const CSR_T = '$aws/certificates/create-from-csr/json';
const PROV_T = '$aws/provisioning-templates/' + T + '/provision/json';
const key = fs.readFileSync(args.claimKey);
const cert = fs.readFileSync(args.claimCert);
const ca = fs.readFileSync(args.ca);

/* ---- a PKCS#10 CSR in DER, by hand (node has no CSR builder) ---- */
function derLen(n) {
    if (n < 0x80) return Buffer.from([n]);
    const b = [];
    while (n > 0) { b.unshift(n & 0xff); n >>= 8; }
    return Buffer.from([0x80 | b.length, ...b]);
}
function der(tag, ...parts) {
    const body = Buffer.concat(parts);
    return Buffer.concat([Buffer.from([tag]), derLen(body.length), body]);
}
const OID_CN = Buffer.from([0x06, 0x03, 0x55, 0x04, 0x03]);
const OID_ECDSA_SHA256 = Buffer.from([0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]);
function makeCsr(cn) {
    const { publicKey, privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const name = der(0x30, der(0x31, der(0x30, OID_CN, der(0x0c, Buffer.from(cn, 'utf8')))));
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    const info = der(0x30, Buffer.from([0x02, 0x01, 0x00]), name, spki, Buffer.from([0xa0, 0x00]));
    const sig = crypto.sign('sha256', info, privateKey);
    const csr = der(0x30, info, der(0x30, OID_ECDSA_SHA256), der(0x03, Buffer.from([0]), sig));
    const b64 = csr.toString('base64').match(/.{1,64}/g).join('\n');
    return '-----BEGIN CERTIFICATE REQUEST-----\n' + b64 + '\n-----END CERTIFICATE REQUEST-----\n';
}

const out = { count: N, ready: 0, provisioned: 0, devices: [] };
let done = 0;
const t0 = Date.now();
let tGo = 0;
const clients = [];
const st = []; /* per device, not reported: {csr, settled, ready} */

function finish() {
    out.provisionSeconds = tGo ? (Date.now() - tGo) / 1000 : null;
    for (const c of clients) c.end(true);
    process.stdout.write(JSON.stringify(out) + '\n', () => process.exit(0));
}
setTimeout(() => {
    for (const d of out.devices) if (!st[d.i].settled) d.error = 'timeout' + (st[d.i].ready ? '' : ' (never ready)');
    finish();
}, timeoutMs).unref();

function settle(d, error) {
    if (st[d.i].settled) return;
    st[d.i].settled = true;
    if (error) d.error = error;
    else out.provisioned++;
    if (!st[d.i].ready) maybeGo(); /* failed before it was ready: the others need not wait for it */
    if (++done === N) finish();
}

let failedEarly = 0;
function maybeGo(early) {
    if (early === undefined) failedEarly++;
    if (!tGo && out.ready + failedEarly === N) go();
}

function go() {
    out.readySeconds = (Date.now() - t0) / 1000;
    tGo = Date.now();
    for (let i = 0; i < N; i++) {
        if (st[i].ready && !st[i].settled) clients[i].publish(CSR_T, JSON.stringify({ certificateSigningRequest: st[i].csr }), { qos: 1 });
    }
}

for (let i = 0; i < N; i++) {
    const d = { i, clientId: (args.clientPrefix || 'claim-') + i };
    st.push({ csr: makeCsr((args.serialPrefix || 'mass-') + i), settled: false, ready: false });
    out.devices.push(d);
    const c = mqtt.connect({
        protocol: 'mqtts', host: args.host, port: args.port, protocolVersion: 4, clientId: d.clientId,
        key, cert, ca, reconnectPeriod: 0, connectTimeout: timeoutMs, keepalive: 60,
    });
    clients.push(c);
    c.on('error', (e) => settle(d, 'client error: ' + e));
    c.on('close', () => { if (!st[i].settled) settle(d, 'connection closed'); });
    c.on('message', (topic, payload) => {
        let m;
        try { m = JSON.parse(payload.toString('utf8')); } catch (e) { return settle(d, 'bad payload on ' + topic); }
        if (topic === CSR_T + '/accepted') {
            d.certificateId = m.certificateId;
            c.publish(PROV_T, JSON.stringify({
                certificateOwnershipToken: m.certificateOwnershipToken,
                parameters: { SerialNumber: (args.serialPrefix || 'mass-') + i,
                    HardwareRevision: args.hardwareRevision || 'r1' },
            }), { qos: 1 });
        } else if (topic === PROV_T + '/accepted') {
            d.thingName = m.thingName;
            settle(d, null);
        } else if (topic.endsWith('/rejected')) {
            settle(d, topic + ': ' + JSON.stringify(m));
        }
    });
    c.once('connect', async () => {
        try {
            const g = await c.subscribeAsync([CSR_T + '/accepted', CSR_T + '/rejected', PROV_T + '/accepted',
                PROV_T + '/rejected'], { qos: 1 });
            if (g.some((x) => x.qos >= 128)) return settle(d, 'subscription refused: ' + JSON.stringify(g));
        } catch (e) {
            return settle(d, 'subscribe: ' + e);
        }
        st[i].ready = true;
        out.ready++;
        maybeGo(false);
    });
}
