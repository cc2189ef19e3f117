// Which messages a connection was already given, so that one is not given twice. aedes does this itself
// with a per-client high-water mark (the highest broker counter delivered), which drops every message
// that arrives after a later one: a QoS 1 message stored before its PUBACK, or a retained one whose
// store commits at the end of the turn, is overtaken by a QoS 0 message published meanwhile, and its
// subscribers never got it (docs/INTERNALS.md, "Deliveries"). The hub turns that mark off and keeps
// instead the last few deliveries of each connection, exactly: a redelivery from the session's queue
// of a message just delivered live is still dropped, a late one is not.

/** What aedes's dedupe reads as "nothing delivered yet" and whose writes it forgets. */
export const NO_HIGH_WATER_MARK: Record<string, number> = new Proxy(Object.create(null) as Record<string, number>, {
  get: () => undefined,
  set: () => true,
  defineProperty: () => true,
});

/** Deliveries remembered per connection: more than a session's queue sends at once (aedes sends it in order). */
export const RECENT_DELIVERIES = 1024;

export class RecentDeliveries {
  private readonly seen = new Set<string>();

  /** True the first time this message (its broker and counter) is offered, false after. */
  fresh(brokerId: string, counter: number): boolean {
    const key = `${brokerId}\0${counter}`;
    if (this.seen.has(key)) return false;
    this.seen.add(key);
    if (this.seen.size > RECENT_DELIVERIES) this.seen.delete(this.seen.values().next().value!);
    return true;
  }
}
