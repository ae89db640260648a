/**
 * The delete batcher against a fake handle: links deleted together share one group deletion, and
 * each link still gets its own outcome when some requests are refused (found in CI: one refused
 * request failed the whole batch, every retry, and left the others in the doomed group).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { constants } from 'node:os';
import { NetlinkError } from '../../../src/netlink/index.js';
import { DeleteBatcher } from '../../../src/descriptors/delete-batcher.js';
import { DOOMED_GROUP } from '../../../src/descriptors/ownership.js';
import type { NamespaceView } from '../../../src/descriptors/namespace-views.js';

const { EBUSY, ENODEV } = constants.errno;

/** Links by ifindex with their group; requests listed; `refuse` says which requests fail. */
class FakeLinks {
  readonly groups = new Map<number, number>();
  readonly requests: string[] = [];
  refuse: (request: string) => number | undefined = () => undefined;

  constructor(...indexes: number[]) {
    for (const i of indexes) this.groups.set(i, 0);
  }

  private check(request: string): void {
    this.requests.push(request);
    const errno = this.refuse(request);
    if (errno !== undefined) throw new NetlinkError(errno, request);
  }

  readonly handle = {
    linkSetGroup: async (index: number, group: number): Promise<void> => {
      this.check(`group ${index} ${group}`);
      if (!this.groups.has(index)) throw new NetlinkError(ENODEV, `group ${index}`);
      this.groups.set(index, group);
    },
    linkDelGroup: async (group: number): Promise<void> => {
      this.check(`del group ${group}`);
      for (const [index, g] of this.groups) if (g === group) this.groups.delete(index);
    },
    linkDel: async (index: number): Promise<void> => {
      this.check(`del ${index}`);
      if (!this.groups.delete(index)) throw new NetlinkError(ENODEV, `del ${index}`);
    },
  };

  get view(): NamespaceView {
    return { handle: this.handle } as unknown as NamespaceView;
  }
}

async function outcomes(batcher: DeleteBatcher, view: NamespaceView, indexes: number[]): Promise<string[]> {
  const results = await Promise.allSettled(indexes.map((i) => batcher.delete(view, i)));
  return results.map((r) => (r.status === 'fulfilled' ? 'deleted' : (r.reason as NetlinkError).errnoName));
}

describe('delete batcher', () => {
  test('links deleted at one moment go in one group deletion', async () => {
    const links = new FakeLinks(1, 2, 3, 9);
    assert.deepEqual(await outcomes(new DeleteBatcher(), links.view, [1, 2, 3]), [
      'deleted',
      'deleted',
      'deleted',
    ]);
    assert.deepEqual([...links.groups.keys()], [9]);
    assert.equal(links.requests.filter((r) => r.startsWith('del')).length, 1);
  });

  test('both ends of a VETH pair deleted through one link: one group request for it, both answered', async () => {
    const links = new FakeLinks(1, 2, 9);
    assert.deepEqual(await outcomes(new DeleteBatcher(), links.view, [1, 1, 2, 2]), [
      'deleted',
      'deleted',
      'deleted',
      'deleted',
    ]);
    assert.deepEqual([...links.groups.keys()], [9]);
    assert.deepEqual(links.requests, [
      `group 1 ${DOOMED_GROUP}`,
      `group 2 ${DOOMED_GROUP}`,
      `del group ${DOOMED_GROUP}`,
    ]);
  });

  test('a link it deleted moments ago is not asked for again (the later end of a pair); one that failed is', async () => {
    const links = new FakeLinks(1, 2, 3);
    const batcher = new DeleteBatcher();
    const view = links.view; // one view per namespace, as NamespaceViews keeps them
    assert.deepEqual(await outcomes(batcher, view, [1, 2]), ['deleted', 'deleted']);
    const asked = links.requests.length;
    assert.deepEqual(await outcomes(batcher, view, [2, 1]), ['deleted', 'deleted']);
    assert.equal(links.requests.length, asked, 'no request for links already deleted');
    links.refuse = (r) => (r === 'del 3' ? EBUSY : undefined);
    assert.deepEqual(await outcomes(batcher, view, [3]), ['EBUSY']);
    links.refuse = () => undefined;
    assert.deepEqual(await outcomes(batcher, view, [3]), ['deleted']);
    assert.equal(links.groups.size, 0);
  });

  test('one link alone is deleted by itself; one already gone counts as deleted', async () => {
    const links = new FakeLinks(1);
    assert.deepEqual(await outcomes(new DeleteBatcher(), links.view, [1]), ['deleted']);
    assert.deepEqual(await outcomes(new DeleteBatcher(), links.view, [1]), ['deleted']);
    assert.deepEqual(await outcomes(new DeleteBatcher(), links.view, [1, 5]), ['deleted', 'deleted']);
  });

  test('a link whose group request is refused is deleted by itself; the others by the group', async () => {
    const links = new FakeLinks(1, 2, 3);
    links.refuse = (r) => (r === `group 2 ${DOOMED_GROUP}` ? EBUSY : undefined);
    assert.deepEqual(await outcomes(new DeleteBatcher(), links.view, [1, 2, 3]), [
      'deleted',
      'deleted',
      'deleted',
    ]);
    assert.equal(links.groups.size, 0);
    assert.ok(links.requests.includes('del 2'));
  });

  test('a refused group deletion: each link deleted by itself, each with its own outcome, none left doomed', async () => {
    const links = new FakeLinks(1, 2, 3, 9);
    links.refuse = (r) => (r.startsWith('del group') || r === 'del 3' ? EBUSY : undefined);
    assert.deepEqual(await outcomes(new DeleteBatcher(), links.view, [1, 2, 3]), [
      'deleted',
      'deleted',
      'EBUSY',
    ]);
    assert.deepEqual(
      [...links.groups],
      [
        [3, 0],
        [9, 0],
      ],
    );
  });
});
