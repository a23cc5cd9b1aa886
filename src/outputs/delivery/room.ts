/**
 * The listeners of `DeliveryBuffer.onRoom`: a buffer calls `notify` wherever it may have freed
 * room. Cheap enough for the paths that run per batch (a Set of usually one listener).
 */
export class RoomListeners {
  private readonly listeners = new Set<() => void>();

  add(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  notify(): void {
    for (const listener of this.listeners) listener();
  }
}
