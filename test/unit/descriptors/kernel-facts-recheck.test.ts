/**
 * KernelFacts' re-check of gateway reachability over several namespaces: what one namespace's
 * re-read answers reaches the engine before anything newer about it (found by the randomized
 * kernel test, test/kernel/descriptors/fuzz.test.ts, FUZZ_SEED=42).
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { KernelFacts, type FactChange } from '../../../src/descriptors/kernel-facts.js';
import { reachFact } from '../../../src/descriptors/fact-keys.js';
import type { NamespaceViews } from '../../../src/descriptors/namespace-views.js';
import { AF_INET, type Address, type KernelEvent, type Route } from '../../../src/netlink/index.js';

const address = (index: number, text: string, prefixLength: number): Address => ({
  family: AF_INET,
  index,
  address: text,
  prefixLength,
  flags: 0,
  scope: 0,
});

interface FakeLink {
  index: number;
  name: string;
  up: boolean;
}

/** A view with one link whose address dump the test answers when it likes. */
class FakeView {
  addrList: () => Promise<Address[]> = () => Promise.resolve([]);
  readonly handle = {
    addrList: (): Promise<Address[]> => this.addrList(),
    routeList: (): Promise<Route[]> => Promise.resolve([]),
  };
  readonly links: { get: (key: string | number) => FakeLink | undefined; list: () => FakeLink[] };

  constructor(
    readonly id: string,
    link: FakeLink,
  ) {
    this.links = {
      get: (key) => (key === link.name || key === link.index ? link : undefined),
      list: () => [link],
    };
  }
}

describe('KernelFacts gateway re-check', () => {
  it("a namespace's re-read answer is not sent after a newer one its address events gave while another namespace's dump was slow", async () => {
    const a = new FakeView('named/a', { index: 2, name: 'eth0', up: true });
    const b = new FakeView('named/b', { index: 5, name: 'eth1', up: true });
    const views = Object.assign(new EventEmitter(), {
      get: (id: string) => (id === a.id ? a : id === b.id ? b : undefined),
    });
    const facts = new KernelFacts(views as unknown as NamespaceViews);
    const sent: FactChange[] = [];
    facts.on('change', (changes) => sent.push(...changes));
    const keyA = reachFact(a.id, 'eth0', '10.0.0.254');
    const lastA = (): unknown => sent.filter((c) => c.key === keyA).at(-1)?.value;

    a.addrList = () => Promise.resolve([address(2, '10.0.0.1', 24)]);
    facts.watchGateway(a.id, 'eth0', '10.0.0.254', 0);
    facts.watchGateway(b.id, 'eth1', '10.0.0.254', 0);
    await facts.recheckNow();
    assert.equal(lastA(), true, 'reachable through eth0');

    // eth0 made again: its address not there yet when its namespace is re-read; the other
    // namespace's dump is slow.
    a.addrList = () => Promise.resolve([]);
    let answerB: (list: Address[]) => void = () => undefined;
    b.addrList = () => new Promise((resolve) => (answerB = resolve));
    views.emit('resynced', a, 'test');
    views.emit('resynced', b, 'test');
    const recheck = facts.recheckNow();
    await sleep(20);
    // The address comes (an event) before the other namespace's dump is in.
    const added: KernelEvent = { topic: 'address', removed: false, address: address(2, '10.0.0.1', 24) };
    views.emit('kernel', a, [added]);
    assert.equal(lastA(), true, 'reachable again with its address');
    answerB([]);
    await recheck;
    await sleep(20);
    assert.equal(lastA(), true, 'the last word sent on eth0 is the newest: reachable');
  });
});
