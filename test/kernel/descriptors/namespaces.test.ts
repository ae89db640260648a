/**
 * Namespace references through engine + Linux descriptors on a real kernel: pid and file references
 * are waited for and watched for liveness (items go pending when the namespace goes, and come back
 * with a namespace under the same reference); either end's named namespace deleted out of band;
 * namespaces we did not create are never deleted; a VETH end moved to another namespace is
 * re-created there.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { deleteNamespace, eventually, ip, skipUnlessRoot } from '../../helpers/kernel.js';
import type { ItemKind } from '../../../src/model/index.js';
import {
  addresses,
  hex,
  isUp,
  link,
  linkOrFail,
  pause,
  veth,
  withAgent,
  TestAgent,
  type IpAddrJson,
} from './harness.js';
import { MemoryUsedNamespaces } from '../../../src/descriptors/used-namespaces.js';
import { processStartTime } from '../../../src/util/process-start.js';

/**
 * A book of the namespaces used whose file takes a while to be written, as a synced write under
 * load does: `written` is what a run killed now would leave to the next one.
 */
class SlowUsedNamespaces extends MemoryUsedNamespaces {
  written: readonly string[] = [];
  private writing: Promise<void> | undefined;

  protected override changed(): void {
    const ids = [...this.current];
    this.writing = pause(1000).then(() => {
      this.written = ids;
    });
  }

  override async recorded(): Promise<void> {
    await this.writing;
  }
}

/** `ip -json addr show dev NAME` inside the namespace of a process. */
function pidAddresses(pid: number, name: string): IpAddrJson | undefined {
  const run = spawnSync(
    'nsenter',
    [`--net=/proc/${pid}/ns/net`, 'ip', '-json', 'addr', 'show', 'dev', name],
    { encoding: 'utf8' },
  );
  if (run.status !== 0) return undefined;
  return (JSON.parse(run.stdout) as IpAddrJson[])[0];
}

describe('namespace references', { skip: skipUnlessRoot() }, () => {
  test('one namespace named two ways (by name, by a pid in it): a resync writes nothing, a route there through an item of the other reference is made', async () => {
    await withAgent(2, async (agent, [ns1, ns2]) => {
      const child = spawn('ip', ['netns', 'exec', ns1!, 'sleep', '60'], { stdio: 'ignore' });
      const pid = child.pid!;
      try {
        await eventually(() => {
          const its = spawnSync('ip', ['netns', 'identify', String(pid)], { encoding: 'utf8' }).stdout.trim();
          assert.equal(its, ns1);
        });
        const byPid = { type: 'PID_REF_NS', pid };
        const items: [ItemKind, string, unknown][] = [
          ['interface', 'a', veth('a', 'b', ns1!, { host_if_name: 'twa', ip_addresses: ['10.0.6.1/24'] })],
          ['interface', 'b', veth('b', 'a', ns2!, { host_if_name: 'twb', ip_addresses: ['10.0.6.2/24'] })],
          [
            'route',
            'r',
            { name: 'r', namespace: byPid, interface: 'a', dst_ip_addr: '10.36.0.0/16', gw_addr: '10.0.6.2' },
          ],
        ];
        await agent.put(...items);
        await agent.waitConfigured(['interface', 'a'], ['interface', 'b'], ['route', 'r']);
        const index = linkOrFail(ns1!, 'twa').ifindex;
        // Each namespace is read once: what one reference's items made is not the other's orphan.
        const resync = await agent.engine.resync();
        assert.equal(
          resync.counts.create + resync.counts.update + resync.counts.delete,
          0,
          JSON.stringify(resync.operations),
        );
        assert.equal(linkOrFail(ns1!, 'twa').ifindex, index, 'the same link');
        await agent.waitConfigured(['interface', 'a'], ['interface', 'b'], ['route', 'r']);
      } finally {
        child.kill();
      }
    });
  });

  /** The network namespace of a process, as readlink shows it. */
  const namespaceOf = (pid: number): string =>
    spawnSync('readlink', [`/proc/${pid}/ns/net`], { encoding: 'utf8' }).stdout.trim();

  test('PID_REF_NS: waited for, configured, pending when the process exits, also once its pid is reused, also after a restart; put again after a deletion, the process that has the pid then', async (t) => {
    const child = spawn('unshare', ['-n', 'sleep', '60'], { stdio: 'ignore' });
    const pid = child.pid!;
    const used = new MemoryUsedNamespaces();
    try {
      await withAgent(
        0,
        async (agent) => {
          // Wait for unshare to have switched to its own namespace (it execs sleep afterwards).
          await eventually(() => {
            const self = spawnSync('readlink', ['/proc/self/ns/net'], { encoding: 'utf8' }).stdout;
            const its = spawnSync('readlink', [`/proc/${pid}/ns/net`], { encoding: 'utf8' }).stdout;
            assert.notEqual(its.trim(), '');
            assert.notEqual(its, self);
          });
          const lo = {
            name: 'plo',
            type: 'LOOPBACK',
            enabled: true,
            namespace: { type: 'PID_REF_NS', pid },
            ip_addresses: ['10.11.0.1/32'],
          };
          await agent.replaceAll(['interface', 'plo', lo]);
          await agent.waitConfigured(['interface', 'plo']);
          // Written down with the process it means, for the next run.
          await eventually(() => assert.equal(used.processStart(`pid/${pid}`), processStartTime(pid)));
          const seen = pidAddresses(pid, 'lo');
          assert.ok(seen?.flags.includes('UP'), 'lo up');
          assert.ok(
            seen?.addr_info.some((a) => a.local === '10.11.0.1'),
            'address set',
          );

          child.kill('SIGKILL');
          await agent.waitFor(
            'interface',
            'plo',
            'pending',
            new RegExp(`waiting for namespace of pid ${pid}`),
          );

          // The pid handed to another process (here in the host's namespace): not the one meant, the
          // item stays pending (it took the host's lo before). The kernel gives the next pid after
          // ns_last_pid; another process may take it first, then this part is left out.
          if (child.exitCode === null && child.signalCode === null)
            await new Promise((resolve) => child.once('exit', resolve));
          writeFileSync('/proc/sys/kernel/ns_last_pid', String(pid - 1));
          const reuser = spawn('unshare', ['-n', 'sleep', '30'], { stdio: 'ignore' });
          try {
            if (reuser.pid !== pid) {
              t.diagnostic(`pid ${pid} was not reused (got ${reuser.pid}): that part is left out`);
              return;
            }
            // Why, as the API's status says it beside the pending reason.
            await eventually(() =>
              assert.match(
                agent.plugin.namespaceProblem(`pid/${pid}`) ?? '',
                new RegExp(
                  `the process first seen as pid ${pid} has exited, and pid ${pid} is another process now`,
                ),
              ),
            );
            await pause(600);
            assert.equal(agent.status('interface', 'plo')?.state, 'pending', 'still pending');
            assert.ok(
              !(pidAddresses(process.pid, 'lo')?.addr_info ?? []).some((a) => a.local === '10.11.0.1'),
            );

            // The agent restarted: the pid is still not the process it made something for.
            await agent.close();
            const again = await TestAgent.start({ label: agent.label, usedNamespaces: used });
            try {
              await again.replaceAll(['interface', 'plo', lo]);
              await eventually(() =>
                assert.match(
                  again.plugin.namespaceProblem(`pid/${pid}`) ?? '',
                  /pid \d+ is another process now/,
                ),
              );
              await pause(600);
              assert.equal(again.status('interface', 'plo')?.state, 'pending', 'pending after the restart');
              assert.ok(
                !(pidAddresses(process.pid, 'lo')?.addr_info ?? []).some((a) => a.local === '10.11.0.1'),
                "the host's lo untouched",
              );
              // No longer named by the configuration: a reference put again later means the
              // process that has the pid then.
              await again.replaceAll();
              await eventually(() => assert.equal(used.processStart(`pid/${pid}`), undefined));
              // And stays so: the watch kept for what may be left there took it again.
              await pause(1500);
              assert.equal(used.processStart(`pid/${pid}`), undefined, 'not written down again');
              // Put again: the process that has the pid now (in a namespace of its own).
              await eventually(() => assert.notEqual(namespaceOf(pid), namespaceOf(process.pid)));
              await again.replaceAll(['interface', 'plo', lo]);
              await again.waitConfigured(['interface', 'plo']);
              assert.ok(
                pidAddresses(pid, 'lo')?.addr_info.some((a) => a.local === '10.11.0.1'),
                "the new process's lo",
              );
            } finally {
              await again.close();
            }
          } finally {
            reuser.kill('SIGKILL');
          }
        },
        { usedNamespaces: used },
      );
    } finally {
      child.kill('SIGKILL');
    }
  });

  test('PID_REF_NS of a process that does not exist: pending, not failed', () =>
    withAgent(0, async (agent) => {
      const lo = {
        name: 'plo',
        type: 'LOOPBACK',
        enabled: true,
        namespace: { type: 'PID_REF_NS', pid: 4_000_000 },
      };
      await agent.put(['interface', 'plo', lo]);
      await agent.waitFor('interface', 'plo', 'pending', /waiting for namespace of pid 4000000/);
    }));

  test('FILE_REF_NS: waited for, gone -> pending, a namespace under the same path -> back', async () => {
    const name = `k${hex(2)}f${hex(3)}`;
    const path = `/var/run/netns/${name}`;
    try {
      await withAgent(1, async (agent, [ns1]) => {
        const a = veth('a', 'b', ns1!, { host_if_name: 'fa', ip_addresses: ['10.12.0.1/24'] });
        const b = {
          ...veth('b', 'a', undefined, { host_if_name: 'fb', ip_addresses: ['10.12.0.2/24'] }),
          namespace: { type: 'FILE_REF_NS', filepath: path },
        };
        await agent.put(['interface', 'a', a], ['interface', 'b', b]);
        await agent.waitFor('interface', 'b', 'pending', new RegExp(`waiting for namespace file ${path}`));
        await agent.waitFor('interface', 'a', 'pending');
        assert.equal(link(ns1!, 'fa'), undefined);

        ip(null, ['netns', 'add', name]);
        await agent.waitConfigured(['interface', 'a'], ['interface', 'b']);
        assert.deepEqual(addresses(name, 'fb'), ['10.12.0.2/24']);
        assert.ok(isUp(linkOrFail(ns1!, 'fa')));

        ip(null, ['netns', 'del', name]);
        await agent.waitFor('interface', 'b', 'pending', new RegExp(`waiting for namespace file ${path}`));
        await eventually(() => assert.equal(link(ns1!, 'fa'), undefined, 'the other end went with the pair'));

        ip(null, ['netns', 'add', name]);
        await agent.waitConfigured(['interface', 'a'], ['interface', 'b']);
        assert.deepEqual(addresses(name, 'fb'), ['10.12.0.2/24']);
      });
    } finally {
      deleteNamespace(name);
    }
  });

  /**
   * A file in a new directory (`prefix`) with a new namespace bind-mounted on it (that of a process
   * of its own); unmounted (lazily), the process killed and the directory removed after `fn`.
   */
  async function withBoundNamespaceFile(prefix: string, fn: (file: string) => Promise<void>): Promise<void> {
    const proc = spawn('unshare', ['-n', 'sleep', '60'], { stdio: 'ignore' });
    const dir = mkdtempSync(path.join(tmpdir(), prefix));
    const file = path.join(dir, 'net');
    try {
      await eventually(() => assert.notEqual(namespaceOf(proc.pid!), namespaceOf(process.pid)));
      writeFileSync(file, '');
      assert.equal(spawnSync('mount', ['--bind', `/proc/${proc.pid}/ns/net`, file]).status, 0);
      await fn(file);
    } finally {
      spawnSync('umount', ['-l', file]);
      proc.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  }

  test('FILE_REF_NS of a bind mount: once its items are deleted and the mount taken off (a plain file left), it is no longer kept among the namespaces used', () => {
    const used = new MemoryUsedNamespaces();
    return withBoundNamespaceFile('kt-nsfile-', (file) =>
      withAgent(
        0,
        async (agent) => {
          const lo = {
            name: 'flo',
            type: 'LOOPBACK',
            enabled: true,
            namespace: { type: 'FILE_REF_NS', filepath: file },
            ip_addresses: ['10.14.0.1/32'],
          };
          await agent.replaceAll(['interface', 'flo', lo]);
          await agent.waitConfigured(['interface', 'flo']);
          await eventually(() => assert.ok(used.ids().includes(`file/${file}`)));
          await agent.replaceAll();
          assert.equal(spawnSync('umount', ['-l', file]).status, 0); // the agent may hold it open
          await pause(1500);
          await eventually(() => assert.ok(!used.ids().includes(`file/${file}`), used.ids().join(', ')));
        },
        { usedNamespaces: used },
      ),
    );
  });

  for (const order of ['before', 'after'] as const) {
    test(`FILE_REF_NS of a bind mount: let go once its last item is removed, so that a plain umount right after works (the namespaces named handed on ${order} the commit)`, () => {
      const used = new MemoryUsedNamespaces();
      return withBoundNamespaceFile('wr-nsfile-', (file) =>
        withAgent(
          0,
          async (agent) => {
            const name = `wr${hex(3)}`;
            const lo = {
              name,
              type: 'LOOPBACK',
              enabled: true,
              namespace: { type: 'FILE_REF_NS', filepath: file },
              ip_addresses: ['10.15.0.1/32'],
            };
            await agent.replaceAll(['interface', name, lo]);
            await agent.waitConfigured(['interface', name]);
            assert.notEqual(spawnSync('umount', [file]).status, 0, 'held while its item is applied');
            // No writing down of the namespaces used still due (that let go of it, up to 1 s later).
            await pause(1200);
            if (order === 'before') await agent.del(['interface', name]);
            else await agent.delAsTheAgent(['interface', name]);
            await eventually(
              () => assert.equal(spawnSync('umount', [file]).status, 0, 'target is busy'),
              300,
            );
            assert.ok(!used.ids().includes(`file/${file}`), used.ids().join(', '));
            // Put again, the file a plain one now: waited for.
            await agent.put(['interface', name, lo]);
            await agent.waitFor('interface', name, 'pending');
          },
          { usedNamespaces: used },
        ),
      );
    });
  }

  for (const gone of [0, 1]) {
    test(`VETH: the ${gone === 0 ? 'creating' : 'other'} end's named namespace deleted out of band and re-created`, () =>
      withAgent(2, async (agent, namespaces) => {
        const [ns1, ns2] = namespaces as [string, string];
        const items: [ItemKind, string, unknown][] = [
          [
            'interface',
            'a',
            veth('a', 'b', ns1, { host_if_name: 'na', mtu: 1400, ip_addresses: ['10.13.0.1/24'] }),
          ],
          [
            'interface',
            'b',
            veth('b', 'a', ns2, { host_if_name: 'nb', mtu: 1400, ip_addresses: ['10.13.0.2/24'] }),
          ],
        ];
        await agent.put(...items);
        await agent.waitConfigured(['interface', 'a'], ['interface', 'b']);
        const victim = namespaces[gone]!;
        const survivor = namespaces[1 - gone]!;
        const [victimItem, survivorItem, survivorLink] = gone === 0 ? ['a', 'b', 'nb'] : ['b', 'a', 'na'];

        ip(null, ['netns', 'del', victim]);
        await agent.waitFor(
          'interface',
          victimItem,
          'pending',
          new RegExp(`waiting for named namespace ${victim}`),
        );
        await agent.waitFor('interface', survivorItem, 'pending');
        await eventually(() =>
          assert.equal(link(survivor, survivorLink), undefined, `${survivorLink} gone with the pair`),
        );
        // A full read and resync, as after a datastore outage: the namespace is not made again
        // behind the user's back.
        await agent.replaceAll(...items);
        await pause(300);
        assert.equal(existsSync(`/run/netns/${victim}`), false, 'not re-created by a resync');
        assert.equal(agent.engine.status(agent.key('interface', victimItem))?.state, 'pending');

        ip(null, ['netns', 'add', victim]);
        await agent.waitConfigured(['interface', 'a'], ['interface', 'b']);
        const na = linkOrFail(ns1, 'na');
        const nb = linkOrFail(ns2, 'nb');
        assert.ok(isUp(na) && isUp(nb));
        assert.equal(na.mtu, 1400);
        assert.equal(nb.mtu, 1400);
        assert.deepEqual(addresses(ns1, 'na'), ['10.13.0.1/24']);
        assert.deepEqual(addresses(ns2, 'nb'), ['10.13.0.2/24']);
      }));
  }

  test('a named namespace whose deletion was cut short (the agent killed between the unmount and the removal of its file) is deleted at the next start, and made again for an item', () => {
    const used = new MemoryUsedNamespaces();
    return withAgent(
      1,
      async (agent, [ns]) => {
        const file = `/var/run/netns/${ns!}`;
        const lo = {
          name: 'clo',
          type: 'LOOPBACK',
          enabled: true,
          namespace: { type: 'NAMED_NS', name: ns },
        };
        await agent.replaceAll(['interface', 'clo', lo]);
        await agent.waitConfigured(['interface', 'clo']);
        await eventually(() => assert.ok(used.ids().includes(`named/${ns!}`), used.ids().join(', ')));
        await agent.close();
        // What a kill -9 during deleteNamed's unmount leaves (the syscall ends, the process dies
        // before the unlink): the bare file `ip netns add` made, mode 0, no namespace on it.
        assert.equal(spawnSync('umount', ['-l', file]).status, 0);
        assert.equal(statSync(file).mode & 0o7777, 0);
        const again = await TestAgent.start({ label: agent.label, usedNamespaces: used });
        try {
          await again.replaceAll();
          assert.equal(existsSync(file), false, 'the half-deleted namespace is gone');
          await pause(1500);
          await eventually(() => assert.ok(!used.ids().includes(`named/${ns!}`), used.ids().join(', ')));
          // The name is usable again: an item naming it has it made.
          await again.replaceAll(['interface', 'clo', lo]);
          await again.waitConfigured(['interface', 'clo']);
          assert.ok(isUp(linkOrFail(ns!, 'lo')));
        } finally {
          await again.close();
        }
      },
      { create: false, usedNamespaces: used },
    );
  });

  test('a named namespace the agent made is kept while items use it through its file (FILE_REF_NS /var/run/netns/<name>), also across a restart, and deleted once they go', () => {
    const used = new MemoryUsedNamespaces();
    return withAgent(
      2,
      async (agent, [ns1, ns2]) => {
        const file = `/var/run/netns/${ns1!}`;
        const byFile = { type: 'FILE_REF_NS', filepath: file };
        const viaFile: [ItemKind, string, unknown][] = [
          ['interface', 'c', veth('c', 'd', undefined, { namespace: byFile, host_if_name: 'fc' })],
          ['interface', 'd', veth('d', 'c', undefined, { namespace: byFile, host_if_name: 'fd' })],
        ];
        await agent.put(
          ['interface', 'a', veth('a', 'b', ns1!, { host_if_name: 'fa' })],
          ['interface', 'b', veth('b', 'a', ns2!, { host_if_name: 'fb' })],
          ...viaFile,
        );
        await agent.waitConfigured(
          ['interface', 'a'],
          ['interface', 'b'],
          ['interface', 'c'],
          ['interface', 'd'],
        );
        assert.ok(existsSync(file), 'made by the agent');

        // Its last NAMED_NS item goes: the namespace stays for those that name its file.
        await agent.del(['interface', 'a'], ['interface', 'b']);
        await eventually(() =>
          assert.equal(existsSync(`/var/run/netns/${ns2!}`), false, `${ns2!} unused: deleted`),
        );
        await pause(300);
        assert.ok(existsSync(file), `${ns1!} still used through its file`);
        assert.ok(link(ns1!, 'fc') && link(ns1!, 'fd'), 'their links still there');
        assert.equal(agent.engine.status(agent.key('interface', 'c'))?.state, 'configured');
        await agent.close();

        // A restart: the namespace is ours and no NAMED_NS item names it, still used.
        const again = await TestAgent.start({ label: agent.label, usedNamespaces: used });
        try {
          await again.replaceAll(...viaFile);
          await again.waitConfigured(['interface', 'c'], ['interface', 'd']);
          await pause(300);
          assert.ok(existsSync(file), `${ns1!} kept at the start`);
          assert.ok(link(ns1!, 'fc'), 'fc still there');

          // The last of them goes: nothing uses it any more, deleted.
          await again.del(['interface', 'c'], ['interface', 'd']);
          await eventually(() => assert.equal(existsSync(file), false, `${ns1!} deleted once unused`));
        } finally {
          await again.close();
        }
      },
      { create: false, usedNamespaces: used },
    );
  });

  test('a named namespace is written down as used before the agent makes it (a kill in between left its bare file, refused at the next start)', async () => {
    const used = new SlowUsedNamespaces();
    const [ns1, ns2] = [`wc${hex(2)}n1`, `wc${hex(2)}n2`];
    try {
      await withAgent(
        0,
        async (agent) => {
          await agent.putPrepared(
            ['interface', 'wca', veth('wca', 'wcb', ns1)],
            ['interface', 'wcb', veth('wcb', 'wca', ns2)],
          );
          assert.ok(existsSync(`/var/run/netns/${ns1}`) && existsSync(`/var/run/netns/${ns2}`));
          // A kill at any moment from here on leaves the next run the names to look into.
          assert.deepEqual([...used.written], [`named/${ns1}`, `named/${ns2}`].sort());
          await agent.waitConfigured(['interface', 'wca'], ['interface', 'wcb']);
        },
        { create: false, usedNamespaces: used },
      );
    } finally {
      deleteNamespace(ns1);
      deleteNamespace(ns2);
    }
  });

  test('named namespaces we did not create stay when their items go', () =>
    withAgent(2, async (agent, [ns1, ns2]) => {
      await agent.put(['interface', 'a', veth('a', 'b', ns1!)], ['interface', 'b', veth('b', 'a', ns2!)]);
      await agent.waitConfigured(['interface', 'a'], ['interface', 'b']);
      await agent.del(['interface', 'a'], ['interface', 'b']);
      await eventually(() => assert.equal(link(ns1!, 'a'), undefined));
      await pause(200);
      assert.ok(existsSync(`/var/run/netns/${ns1}`), `${ns1} still there`);
      assert.ok(existsSync(`/var/run/netns/${ns2}`), `${ns2} still there`);
    }));

  test('a VETH end moved to another namespace is re-created there (the pair with it)', () =>
    withAgent(3, async (agent, [ns1, ns2, ns3]) => {
      await agent.put(
        ['interface', 'a', veth('a', 'b', ns1!, { host_if_name: 'ma', ip_addresses: ['10.14.0.1/24'] })],
        ['interface', 'b', veth('b', 'a', ns2!, { host_if_name: 'mb', ip_addresses: ['10.14.0.2/24'] })],
      );
      await agent.waitConfigured(['interface', 'a'], ['interface', 'b']);
      await agent.put([
        'interface',
        'b',
        veth('b', 'a', ns3!, { host_if_name: 'mb', ip_addresses: ['10.14.0.2/24'] }),
      ]);
      await eventually(() => {
        assert.equal(link(ns2!, 'mb'), undefined, 'not in the old namespace');
        assert.deepEqual(addresses(ns3!, 'mb'), ['10.14.0.2/24']);
        assert.deepEqual(addresses(ns1!, 'ma'), ['10.14.0.1/24']);
      });
      await agent.waitConfigured(['interface', 'a'], ['interface', 'b']);
      const ping = spawnSync('ip', ['netns', 'exec', ns1!, 'ping', '-c', '1', '-W', '2', '10.14.0.2'], {
        encoding: 'utf8',
      });
      assert.equal(ping.status, 0, ping.stdout + ping.stderr);
    }));
});
