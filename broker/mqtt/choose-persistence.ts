// Which Aedes persistence the broker runs on: the one place that chooses (hub.json `mqttPersistence`).
// `sqlite` (the default) keeps sessions, queues, retained messages and wills in <data-dir>/mqtt.db across
// restarts; `memory` forgets them at every stop (tests, the bench's comparison).
import { join } from 'node:path';
import { type AsyncPersistence, memoryPersistence } from './persistence.js';
import { SqlitePersistence } from './sqlite-persistence.js';

export const MQTT_PERSISTENCES = ['sqlite', 'memory'] as const;
export type MqttPersistenceKind = (typeof MQTT_PERSISTENCES)[number];

/** The file the SQLite persistence keeps, in the data directory (0600 like hub.db). */
export const MQTT_DB_FILE = 'mqtt.db';

export interface ChosenPersistence {
  persistence: AsyncPersistence;
  /** This hub is the only broker on it (so it settles what an earlier run left: earlier-run.ts). */
  singleNode: boolean;
  /** For the start-up log. */
  describe: string;
}

export function choosePersistence(kind: MqttPersistenceKind, dataDir: string): ChosenPersistence {
  switch (kind) {
    case 'sqlite': {
      const file = join(dataDir, MQTT_DB_FILE);
      return { persistence: SqlitePersistence.open(file), singleNode: true, describe: `sqlite ${file}` };
    }
    case 'memory':
      return { persistence: memoryPersistence(), singleNode: true, describe: 'memory (forgotten at every stop)' };
  }
}
