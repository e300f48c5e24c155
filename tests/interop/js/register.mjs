// `node --import ./register.mjs autonat-v2.mjs …` installs loopback-hooks.mjs first.
import { register } from 'node:module';
register('./loopback-hooks.mjs', import.meta.url);

// js-libp2p 3 wants Node 22, which has Promise.withResolvers; Debian's machines here have Node
// 20, where this is the whole of what is missing.
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function withResolvers () {
    let resolve, reject;
    const promise = new this((yes, no) => { resolve = yes; reject = no; });
    return { promise, resolve, reject };
  };
}
