/**
 * A minimal event emitter with the shape of `vscode.Event`, for the pure modules that must
 * not import `vscode` (they are tested in plain Node).
 */

export interface Disposable {
  dispose(): void;
}

export type Listener<T> = (value: T) => void;
export type Event<T> = (listener: Listener<T>) => Disposable;

export class Emitter<T> implements Disposable {
  private listeners = new Set<Listener<T>>();

  readonly event: Event<T> = (listener) => {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  };

  fire(value: T): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(value);
      } catch (e) {
        // One broken listener must not stop the others, nor the stream that fired.
        console.error('TaskScope: a listener failed', e);
      }
    }
  }

  dispose(): void {
    this.listeners.clear();
  }
}
