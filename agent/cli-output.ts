// Where the local commands (`pi-agent modules`, `pi-agent doctor`) write; tests pass their own.
export interface Output { out: (s: string) => void; err: (s: string) => void }
export const STDIO: Output = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };
