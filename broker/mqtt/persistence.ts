// The Aedes persistence interface as aedes 1.x calls it (promises, not the callbacks its published
// types still describe), and the default: aedes-persistence's in-memory store.
import type { Readable } from 'node:stream';
import { createRequire } from 'node:module';

/** A packet as a persistence stores it: aedes-packet's fields, loosely typed. */
export interface StoredPacket {
  cmd: string;
  topic: string;
  payload: Buffer;
  qos: number;
  retain: boolean;
  messageId?: number;
  brokerId?: string;
  brokerCounter?: number;
  [key: string]: unknown;
}

export interface StoredSubscription { topic: string; qos: number; rh?: number; rap?: boolean; nl?: boolean }

/** Only the id matters to a persistence: aedes passes a client or `{ id }`. */
export interface ClientRef { id: string }

export interface AsyncPersistence {
  setup(broker: unknown): Promise<void>;
  storeRetained(packet: StoredPacket): Promise<void>;
  createRetainedStream(pattern: string): Readable;
  createRetainedStreamCombi(patterns: string[]): Readable;
  addSubscriptions(client: ClientRef, subs: StoredSubscription[]): Promise<void>;
  removeSubscriptions(client: ClientRef, topics: string[]): Promise<void>;
  subscriptionsByClient(client: ClientRef): Promise<StoredSubscription[]>;
  countOffline(): Promise<{ subsCount: number; clientsCount: number }>;
  subscriptionsByTopic(topic: string): Promise<Array<{ clientId: string; topic: string; qos: number }>>;
  cleanSubscriptions(client: ClientRef): Promise<void>;
  outgoingEnqueue(sub: { clientId: string }, packet: StoredPacket): Promise<void>;
  outgoingEnqueueCombi(subs: Array<{ clientId: string }>, packet: StoredPacket): Promise<void>;
  outgoingUpdate(client: ClientRef, packet: StoredPacket): Promise<void>;
  outgoingClearMessageId(client: ClientRef, packet: { messageId?: number }): Promise<StoredPacket | undefined>;
  outgoingStream(client: ClientRef): Readable;
  incomingStorePacket(client: ClientRef, packet: StoredPacket): Promise<void>;
  incomingGetPacket(client: ClientRef, packet: { messageId?: number }): Promise<StoredPacket>;
  incomingDelPacket(client: ClientRef, packet: { messageId?: number }): Promise<void>;
  cleanIncoming(client: ClientRef): Promise<void>;
  putWill(client: ClientRef, packet: StoredPacket): Promise<void>;
  getWill(client: ClientRef): Promise<StoredPacket | undefined>;
  delWill(client: ClientRef): Promise<StoredPacket | undefined>;
  streamWill(brokers?: Record<string, unknown>): Readable;
  getClientList(topic: string): Readable;
  destroy(): Promise<void>;
  /** What a store that outlives the process kept of each session (absent: it keeps nothing). */
  ledger?: SessionLedger;
}

/** A persistent session as a store kept it: for the hub's per-user quota and expiry after a restart. */
export interface StoredSession {
  clientId: string;
  /** When a connection last opened or closed it; null when only its subscriptions or queue are known. */
  lastSeen: number | null;
  /** A connection held it when the hub stopped (or died). */
  connected: boolean;
}

/**
 * What the hub's bookkeeping (bounded-persistence.ts, persistent-sessions.ts) must learn again after a
 * restart, beyond what aedes asks a persistence: which sessions exist, since when unused, and how much
 * each one's queue holds.
 */
export interface SessionLedger {
  storedSessions(): StoredSession[];
  storedQueues(): Array<{ clientId: string; messages: number; bytes: number }>;
  /** A persistent session was used now (connected: a connection still holds it). */
  sessionSeen(clientId: string, at: number, connected: boolean): void;
  /** The session ended (clean connect, expiry): forget when it was used. */
  forgetSession(clientId: string): void;
}

/** A packet as aedes hands it to its persistence (aedes-packet: aedes's fields, a given brokerId and brokerCounter kept). */
export function aedesPacket(packet: object): StoredPacket {
  return new AedesPacket(packet);
}
const AedesPacket = createRequire(import.meta.url)('aedes-packet') as new (p: object) => StoredPacket;

/** aedes-persistence's in-memory store, used directly (its default export wraps it in callbacks). */
export function memoryPersistence(): AsyncPersistence {
  const require = createRequire(import.meta.url);
  const Memory = require('aedes-persistence/asyncPersistence.js') as new () => AsyncPersistence;
  return new Memory();
}
