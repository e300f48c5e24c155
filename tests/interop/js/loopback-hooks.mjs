// Node module hooks for the interop tests: js-libp2p treats every address these tests may use
// (loopback, RFC 1918, all three documentation ranges) as private, and its AutoNAT v2 neither
// asks about nor dials a private address. This replaces that one predicate,
// @libp2p/utils' isPrivateIp, with "nothing is private"; the protocol code under test is
// js-libp2p's own, unchanged.
export async function load(url, context, nextLoad) {
  const loaded = await nextLoad(url, context);
  if (url.endsWith('/@libp2p/utils/dist/src/private-ip.js')) {
    return {
      format: 'module',
      shortCircuit: true,
      source: 'export function isPrivateIp (ip) { return false }\n'
    };
  }
  return loaded;
}
