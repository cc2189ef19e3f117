// Which connection holds a device's session, when several hub nodes share the broker's state
// (broker/cluster). A device's offline status — its will, or the hub's own word when it ends a session —
// is published only by the connection that still holds the session: after the Pi moved to another node
// (or opened a newer connection on this one), the old connection's last word would be a lie.
// docs/ARCHITECTURE.md, "Several hub nodes".

export interface SessionHolders {
  /** Records that `connection` now holds `clientId`'s session; rejects when the shared store is unreachable. */
  claim(clientId: string, connection: string): Promise<void>;
  /** The connection that last claimed `clientId`'s session, or null when none did. */
  holder(clientId: string): Promise<string | null>;
}

/** A connection's name across nodes: the aedes broker id of its node, then a number. */
export function connectionName(brokerId: string, n: number): string {
  return `${brokerId}#${n}`;
}

/** The broker id of the node a connection name belongs to. */
export function nodeOf(connection: string): string {
  return connection.slice(0, connection.lastIndexOf('#'));
}
