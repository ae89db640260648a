/**
 * The netlink fault-injection seam without a kernel: the NETNS_AGENT_FAULTS specification (refused
 * when not understood), which sockets a plan applies to, simulated event-socket overruns (which
 * datagrams are dropped, when ENOBUFS is reported), refused write requests (never reads), the
 * limit, repeatability with a seed, and that nothing is installed unless asked. Also the link
 * registry's re-dumps: one asked while another runs is not lost.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { constants } from 'node:os';
import {
  FAULTS_ENV,
  FaultSpecError,
  INJECTED_MESSAGE,
  LinkRegistry,
  NetlinkError,
  NetlinkFaultInjector,
  RTM_DELLINK,
  RTM_GETADDR,
  RTM_GETLINK,
  RTM_NEWADDR,
  RTM_NEWLINK,
  RTM_SETLINK,
  encodeLinkRequest,
  faultsFromEnvironment,
  installNetlinkFaults,
  installedNetlinkFaults,
  isWriteRequest,
  parseFaultSpec,
  type InjectedFault,
  type KernelEvent,
  type Link,
  type NetlinkHandle,
} from '../../../src/netlink/index.js';

const { EBUSY, EAGAIN } = constants.errno;

function message(type: number): Buffer {
  return encodeLinkRequest(type, 0, 1, {});
}

function datagrams(count: number): Buffer[] {
  return Array.from({ length: count }, (_, i) => Buffer.from([i]));
}

const ids = (list: Buffer[]): number[] => list.map((b) => b[0]!);

describe('fault specification', () => {
  test('every key parses', () => {
    assert.deepEqual(
      parseFaultSpec(
        'events-enobufs-every=3, events-enobufs-drop=2,events-rcvbuf=4096,events-ns=flt1|own namespace,' +
          'request-errno=EBUSY|eagain,request-rate=0.25,request-limit=7,request-ns=flt1,seed=42',
      ),
      {
        eventsEnobufsEvery: 3,
        eventsEnobufsDrop: 2,
        eventsReceiveBufferBytes: 4096,
        eventsWhere: ['flt1', 'own namespace'],
        requestErrnos: [EBUSY, EAGAIN],
        requestRate: 0.25,
        requestLimit: 7,
        requestWhere: ['flt1'],
        seed: 42,
      },
    );
    assert.deepEqual(parseFaultSpec('request-every=5'), { requestEvery: 5 });
    assert.deepEqual(parseFaultSpec(' , '), {});
  });

  test('anything not understood is refused, never half applied', () => {
    for (const bad of [
      'events-enobufs-every=0',
      'events-enobufs-every=1.5',
      'events-enobufs-every=x',
      'request-rate=0',
      'request-rate=1.5',
      'request-errno=ENOTANERRNO',
      'request-rate=0.5,request-every=2',
      'colour=blue',
      'events-enobufs-every',
      '=3',
    ]) {
      assert.throws(() => parseFaultSpec(bad), FaultSpecError, bad);
    }
  });

  test('nothing is installed unless NETNS_AGENT_FAULTS says so', () => {
    assert.equal(installedNetlinkFaults(), undefined);
    assert.equal(faultsFromEnvironment({}), undefined);
    assert.equal(faultsFromEnvironment({ [FAULTS_ENV]: '' }), undefined);
    assert.equal(faultsFromEnvironment({ [FAULTS_ENV]: '   ' }), undefined);
    const injector = faultsFromEnvironment({ [FAULTS_ENV]: 'request-every=2' });
    assert.ok(injector instanceof NetlinkFaultInjector);
    assert.deepEqual(injector.plan, { requestEvery: 2 });
    assert.throws(() => faultsFromEnvironment({ [FAULTS_ENV]: 'nonsense=1' }), FaultSpecError);
    installNetlinkFaults(injector);
    assert.equal(installedNetlinkFaults(), injector);
    installNetlinkFaults(undefined);
    assert.equal(installedNetlinkFaults(), undefined);
  });

  test('a plan applies only to the sockets it names, and only to its kind of socket', () => {
    const events = new NetlinkFaultInjector(parseFaultSpec('events-enobufs-every=2,events-ns=flt1|own'));
    assert.ok(events.forEvents('named namespace flt1a'));
    assert.ok(events.forEvents("the agent's own namespace"));
    assert.equal(events.forEvents('named namespace other'), undefined);
    assert.equal(events.forRequests('named namespace flt1a'), undefined);
    const requests = new NetlinkFaultInjector(parseFaultSpec('request-every=2'));
    assert.ok(requests.forRequests('anything'));
    assert.equal(requests.forEvents('anything'), undefined);
    const buffer = new NetlinkFaultInjector(parseFaultSpec('events-rcvbuf=8192'));
    assert.equal(buffer.forEvents('x')?.receiveBufferBytes, 8192);
    assert.deepEqual(buffer.forEvents('x')?.filter(datagrams(3)), {
      datagrams: datagrams(3),
      overrun: false,
    });
  });
});

describe('simulated event-socket overruns', () => {
  test('every Nth datagram overflows: dropped, and the read reports ENOBUFS after the rest', () => {
    const faults: InjectedFault[] = [];
    const injector = new NetlinkFaultInjector(parseFaultSpec('events-enobufs-every=3'), {
      onFault: (f) => faults.push(f),
    });
    const socket = injector.forEvents('named namespace a')!;
    const first = socket.filter(datagrams(4)); // 0 1 [2] 3
    assert.deepEqual(ids(first.datagrams), [0, 1, 3]);
    assert.equal(first.overrun, true);
    const second = socket.filter(datagrams(1)); // 5th: kept
    assert.deepEqual(ids(second.datagrams), [0]);
    assert.equal(second.overrun, false);
    const third = socket.filter(datagrams(2)); // [6th] dropped, 7th kept
    assert.deepEqual(ids(third.datagrams), [1]);
    assert.equal(third.overrun, true);
    assert.deepEqual(injector.counters, { eventOverruns: 2, eventsDropped: 2, requestErrors: 0 });
    assert.deepEqual(faults, [
      { fault: 'event-overrun', socket: 'named namespace a', dropped: 1 },
      { fault: 'event-overrun', socket: 'named namespace a', dropped: 1 },
    ]);
  });

  test('drop D: the overflowing datagram and the next ones, across reads', () => {
    const injector = new NetlinkFaultInjector(parseFaultSpec('events-enobufs-every=2,events-enobufs-drop=3'));
    const socket = injector.forEvents('x')!;
    const first = socket.filter(datagrams(3)); // 0 [1 2] ...
    assert.deepEqual(ids(first.datagrams), [0]);
    assert.equal(first.overrun, true);
    const second = socket.filter(datagrams(3)); // [0] 1 (2nd seen: [2]) -> overrun again
    assert.deepEqual(ids(second.datagrams), [1]);
    assert.equal(second.overrun, true);
    assert.equal(injector.counters.eventsDropped, 4);
  });

  test('every=1: nothing gets through, each read reports an overrun', () => {
    const injector = new NetlinkFaultInjector(parseFaultSpec('events-enobufs-every=1'));
    const socket = injector.forEvents('x')!;
    for (let i = 0; i < 5; i++)
      assert.deepEqual(socket.filter(datagrams(2)), { datagrams: [], overrun: true });
  });

  test('each socket counts its own datagrams', () => {
    const injector = new NetlinkFaultInjector(parseFaultSpec('events-enobufs-every=2'));
    const a = injector.forEvents('a')!;
    const b = injector.forEvents('b')!;
    assert.equal(a.filter(datagrams(1)).overrun, false);
    assert.equal(b.filter(datagrams(1)).overrun, false);
    assert.equal(a.filter(datagrams(1)).overrun, true);
    assert.equal(b.filter(datagrams(1)).overrun, true);
  });
});

describe('refused write requests', () => {
  test('only writes are refused: NEW, DEL, SET; never GET (reads, dumps)', () => {
    assert.equal(isWriteRequest(message(RTM_NEWLINK)), true);
    assert.equal(isWriteRequest(message(RTM_DELLINK)), true);
    assert.equal(isWriteRequest(message(RTM_SETLINK)), true);
    assert.equal(isWriteRequest(message(RTM_NEWADDR)), true);
    assert.equal(isWriteRequest(message(RTM_GETLINK)), false);
    assert.equal(isWriteRequest(message(RTM_GETADDR)), false);
    assert.equal(isWriteRequest(Buffer.alloc(2)), false);
    const injector = new NetlinkFaultInjector(parseFaultSpec('request-every=1'));
    const socket = injector.forRequests('x')!;
    assert.equal(
      socket.errnoFor(message(RTM_GETLINK), () => 'get'),
      0,
    );
    assert.equal(
      socket.errnoFor(message(RTM_NEWLINK), () => 'new'),
      EBUSY,
    );
  });

  test('every Nth write, with the errnos asked for, up to the limit; reported with the request', () => {
    const faults: InjectedFault[] = [];
    const injector = new NetlinkFaultInjector(
      parseFaultSpec('request-every=2,request-errno=EAGAIN,request-limit=2'),
      { onFault: (f) => faults.push(f) },
    );
    const socket = injector.forRequests('named namespace a')!;
    const results = Array.from({ length: 8 }, (_, i) =>
      socket.errnoFor(message(RTM_NEWLINK), () => `req ${i}`),
    );
    assert.deepEqual(results, [0, EAGAIN, 0, EAGAIN, 0, 0, 0, 0]);
    assert.equal(injector.counters.requestErrors, 2);
    assert.deepEqual(faults, [
      { fault: 'request-error', socket: 'named namespace a', errno: 'EAGAIN', request: 'req 1' },
      { fault: 'request-error', socket: 'named namespace a', errno: 'EAGAIN', request: 'req 3' },
    ]);
  });

  test('a rate refuses about that share, with both errnos, the same way for the same seed', () => {
    const run = (seed: number) => {
      const injector = new NetlinkFaultInjector(
        parseFaultSpec(`request-rate=0.2,request-errno=EBUSY|EAGAIN,seed=${seed}`),
      );
      const socket = injector.forRequests('x')!;
      return Array.from({ length: 2000 }, () => socket.errnoFor(message(RTM_NEWADDR), () => 'r'));
    };
    const a = run(7);
    assert.deepEqual(run(7), a, 'repeatable');
    assert.notDeepEqual(run(8), a, 'another seed, other choices');
    const refused = a.filter((e) => e !== 0);
    assert.ok(refused.length > 320 && refused.length < 480, `${refused.length} of 2000 refused`);
    assert.ok(refused.includes(EBUSY) && refused.includes(EAGAIN));
    assert.ok(refused.every((e) => e === EBUSY || e === EAGAIN));
  });

  test('the injected refusal is recognisable in messages', () => {
    assert.equal(INJECTED_MESSAGE, 'fault injected');
  });
});

describe('link registry re-dumps', () => {
  function fakeHandle(): {
    handle: NetlinkHandle;
    calls: number;
    release: (links: Partial<Link>[]) => void;
  } {
    const waiting: ((links: Link[]) => void)[] = [];
    const state = {
      calls: 0,
      handle: {
        label: 'fake namespace',
        linkList: () => {
          state.calls++;
          return new Promise<Link[]>((resolve) => waiting.push(resolve));
        },
      } as unknown as NetlinkHandle,
      release: (links: Partial<Link>[]) => waiting.shift()!(links as Link[]),
    };
    return state;
  }
  const tick = () => new Promise((resolve) => setImmediate(resolve));

  test('a loss reported while a re-dump runs makes another one, announced, with the later state', async () => {
    const fake = fakeHandle();
    const registry = new LinkRegistry(fake.handle, null);
    const resynced: string[] = [];
    const changes: string[] = [];
    registry.on('resynced', (reason) => resynced.push(reason));
    registry.on('change', (list) => changes.push(...list.map((c) => `${c.kind} ${c.link.name}`)));
    // a routine refresh runs (not announced); then events are lost
    const first = registry.resync('statistics', false);
    const second = registry.resync('ENOBUFS');
    const third = registry.resync('ENOBUFS again');
    assert.equal(fake.calls, 1);
    fake.release([{ index: 1, name: 'lo' }]);
    await tick();
    assert.equal(fake.calls, 2, 'a second dump, after the first');
    assert.deepEqual(resynced, [], 'the routine refresh is not announced');
    fake.release([
      { index: 1, name: 'lo' },
      { index: 7, name: 'new0' },
    ]);
    await Promise.all([first, second, third]);
    assert.equal(fake.calls, 2, 'requests made meanwhile share the second dump');
    assert.deepEqual(resynced, ['ENOBUFS again']);
    assert.deepEqual(changes, ['added lo', 'added new0']);
    assert.equal(registry.get('new0')?.index, 7);
    // idle again: the next request dumps at once
    const fourth = registry.resync('later', false);
    assert.equal(fake.calls, 3);
    fake.release([{ index: 1, name: 'lo' }]);
    await fourth;
    assert.deepEqual(changes, ['added lo', 'added new0', 'removed new0']);
    registry.close();
  });
});

describe('link registry: events during a dump', () => {
  test('link events that come while a dump is in flight are applied after it (each link its last)', async () => {
    let release: (links: Link[]) => void = () => undefined;
    const handle = {
      label: 'fake namespace',
      linkList: () => new Promise<Link[]>((resolve) => (release = resolve)),
    } as unknown as NetlinkHandle;
    const registry = new LinkRegistry(handle, null);
    const changes: string[] = [];
    registry.on('change', (list) => changes.push(...list.map((c) => `${c.kind} ${c.link.name}`)));
    const events = registry as unknown as { onEvents(events: KernelEvent[]): void };
    const link = (index: number, name: string, mtu = 1500) => ({ index, name, mtu }) as Link;
    const dump = registry.resync('test');
    // the snapshot will still list d7 (taken before it went) and lack n8 (made after it)
    events.onEvents([
      { topic: 'link', removed: true, link: link(7, 'd7') },
      { topic: 'link', removed: false, link: link(8, 'n8') },
      { topic: 'link', removed: false, link: link(8, 'n8', 1400) },
    ]);
    assert.deepEqual(changes, [], 'held while the dump runs');
    release([link(1, 'lo'), link(7, 'd7')]);
    await dump;
    assert.deepEqual(
      registry
        .list()
        .map((l) => [l.name, l.mtu])
        .sort(),
      [
        ['lo', 1500],
        ['n8', 1400],
      ],
    );
    // each link's last event only: n8 never shows its older MTU
    assert.deepEqual(changes, ['added lo', 'added d7', 'removed d7', 'added n8']);
    // no dump in flight: applied at once
    events.onEvents([{ topic: 'link', removed: true, link: link(8, 'n8') }]);
    assert.deepEqual(changes.at(-1), 'removed n8');
    registry.close();
  });
});

describe('errno names', () => {
  test('11 is EAGAIN (not EWOULDBLOCK), and retriable', () => {
    const error = new NetlinkError(EAGAIN, 'RTM_NEWLINK x');
    assert.equal(error.errnoName, 'EAGAIN');
    assert.equal(error.retriable, true);
    assert.equal(new NetlinkError(EBUSY, 'x').retriable, true);
    assert.equal(new NetlinkError(constants.errno.EEXIST, 'x').retriable, false);
  });
});
