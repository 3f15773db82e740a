import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { EventRecorder } from './event-recorder.js';
import { startInProcessServer, type InProcessServer } from '../../test/helpers/in-process-server.js';
import type { KubeObject } from '../api/types.js';

interface Ev { involvedObject: { name: string; uid: string; kind: string }; reason: string; message: string; count: number; type: string; source: { component: string } }

describe('EventRecorder', () => {
  let srv: InProcessServer;
  before(async () => { srv = await startInProcessServer(); });
  after(() => srv?.close());

  it('records events about an object and aggregates identical repeats into a count', async () => {
    const c = srv.client();
    const pod = await c.call<KubeObject>('POST', '/api/v1/namespaces/default/pods', {
      body: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } },
    });
    const rec = new EventRecorder(c, 'test-controller');
    rec.event(pod, 'Warning', 'BackOff', 'Back-off restarting failed container');
    rec.event(pod, 'Warning', 'BackOff', 'Back-off restarting failed container');
    rec.event(pod, 'Warning', 'BackOff', 'Back-off restarting failed container');
    rec.event(pod, 'Normal', 'Pulled', 'Container image "busybox" already present on machine', 'spec.containers{c}');
    await rec.flush();
    const list = await c.call<{ items: Ev[] }>('GET', `/api/v1/namespaces/default/events?fieldSelector=involvedObject.uid%3D${pod.metadata.uid}`);
    const byReason = new Map(list.items.map((e) => [e.reason, e]));
    assert.equal(list.items.length, 2);
    assert.equal(byReason.get('BackOff')!.count, 3);
    assert.equal(byReason.get('BackOff')!.type, 'Warning');
    assert.equal(byReason.get('Pulled')!.count, 1);
    assert.equal(byReason.get('Pulled')!.source.component, 'test-controller');
    assert.equal(byReason.get('Pulled')!.involvedObject.kind, 'Pod');
  });

  it('combines similar events and drops the long tail, as client-go does for a big ReplicaSet', async () => {
    const c = srv.client();
    const rs = await c.call<KubeObject>('POST', '/apis/apps/v1/namespaces/default/replicasets', {
      body: { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'big' }, spec: { replicas: 0, selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } } } },
    });
    const rec = new EventRecorder(c, 'replicaset-controller');
    for (let i = 0; i < 30; i++) rec.event(rs, 'Normal', 'SuccessfulCreate', `Created pod: big-${i}`);
    await rec.flush();
    const list = await c.call<{ items: Ev[] }>('GET', `/api/v1/namespaces/default/events?fieldSelector=involvedObject.uid%3D${rs.metadata.uid}`);
    const combined = list.items.filter((e) => e.message.startsWith('(combined from similar events): '));
    assert.equal(list.items.length, 10, 'nine Events as they came, one combined');
    assert.equal(combined.length, 1);
    // 25 tokens: nine single Events, the combined one, and 15 counts on it; the last five are dropped.
    assert.equal(combined[0]!.count, 16);
    assert.equal(combined[0]!.message, '(combined from similar events): Created pod: big-24');
  });

  it('never throws into its caller when the API refuses the event', async () => {
    const c = srv.client();
    const rec = new EventRecorder(c, 'test');
    rec.event({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'Bad Name', namespace: 'missing-ns' } }, 'Normal', 'X', 'y');
    await rec.flush();
  });
});
