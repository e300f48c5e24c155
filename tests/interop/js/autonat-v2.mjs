// js-libp2p's AutoNAT v2 against pyrsia-boot, driven by adapters/tokio/tests/interop.rs.
//
//   client <multiaddr>  dial a pyrsia-boot boot node and have its AutoNAT v2 server test our
//                       listen address; prints one JSON line {"result": "reachable" |
//                       "unreachable", "addr": …, "server": …} and exits 0, or exits 1 after
//                       20 s without a result.
//   server <port>       serve AutoNAT v2 (and identify) on 127.0.0.1:<port>; prints one JSON
//                       line {"listening": "<multiaddr with /p2p/>"} and runs until stdin
//                       closes. (js-libp2p announces no loopback address, so the caller picks
//                       the port.)
import { createLibp2p } from 'libp2p';
import { tcp } from '@libp2p/tcp';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { identify } from '@libp2p/identify';
import { autoNATv2 } from '@libp2p/autonat-v2';
import { multiaddr } from '@multiformats/multiaddr';

const [mode, target] = process.argv.slice(2);
const port = mode === 'server' ? Number(target) : 0;
const say = (object) => process.stdout.write(JSON.stringify(object) + '\n');

const node = await createLibp2p({
  addresses: { listen: [`/ip4/127.0.0.1/tcp/${port}`] },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  services: {
    identify: identify(),
    autoNAT: autoNATv2({ startupDelay: 0 })
  }
});

if (mode === 'client') {
  const client = node.services.autoNAT.client;
  const done = new Promise((resolve) => {
    // The client's two verdict points (an address confirmed or withdrawn).
    const confirm = client.confirmAddress.bind(client);
    const unconfirm = client.unconfirmAddress.bind(client);
    client.confirmAddress = (results) => {
      confirm(results);
      resolve({ result: 'reachable', addr: results.multiaddr.toString() });
    };
    client.unconfirmAddress = (results) => {
      unconfirm(results);
      resolve({ result: 'unreachable', addr: results.multiaddr.toString() });
    };
  });
  await node.dial(multiaddr(target));
  const timeout = new Promise((resolve) => setTimeout(() => resolve(null), 20_000));
  const outcome = await Promise.race([done, timeout]);
  await node.stop();
  if (outcome == null) {
    say({ result: 'timeout' });
    process.exit(1);
  }
  say({ ...outcome, server: target });
  process.exit(0);
} else if (mode === 'server') {
  say({ listening: `/ip4/127.0.0.1/tcp/${port}/p2p/${node.peerId}` });
  process.stdin.resume();
  process.stdin.on('end', async () => {
    await node.stop();
    process.exit(0);
  });
} else {
  process.stderr.write('usage: autonat-v2.mjs client <multiaddr> | server\n');
  process.exit(2);
}
