// systeminformation's parts, imported one by one by agent/stats.ts (the package types only its index):
// each part's module.exports holds the index's functions of that part.
declare module 'systeminformation/lib/cpu.js' { const part: Pick<typeof import('systeminformation'), 'currentLoad'>; export default part; }
declare module 'systeminformation/lib/memory.js' { const part: Pick<typeof import('systeminformation'), 'mem'>; export default part; }
declare module 'systeminformation/lib/filesystem.js' { const part: Pick<typeof import('systeminformation'), 'fsSize'>; export default part; }
declare module 'systeminformation/lib/network.js' { const part: Pick<typeof import('systeminformation'), 'networkStats'>; export default part; }
