// One stockPrice subscription per symbol however many panels show it. Each remembers the
// last sequence it saw, so that after a dropped connection the stream resumes with `after`
// and replays the updates it missed instead of skipping them.
import { STOCK_PRICE, type PriceUpdate, type StockPriceData } from "./api/documents";
import type { LiveConnection } from "./api/live";

type Listener = (update: PriceUpdate) => void;

interface Stream {
  listeners: Set<Listener>;
  last: PriceUpdate | null;
  stop: () => void;
}

export class LivePrices {
  private readonly streams = new Map<string, Stream>();

  constructor(
    private readonly live: LiveConnection,
    private readonly report: (error: unknown) => void,
  ) {}

  /** Calls `listener` with the latest known price now (if any) and with every update. */
  watch(symbol: string, listener: Listener): () => void {
    const stream = this.streams.get(symbol) ?? this.open(symbol);
    stream.listeners.add(listener);
    if (stream.last) listener(stream.last);
    return () => {
      stream.listeners.delete(listener);
      if (stream.listeners.size === 0) {
        stream.stop();
        this.streams.delete(symbol);
      }
    };
  }

  private open(symbol: string): Stream {
    const stream: Stream = { listeners: new Set(), last: null, stop: () => undefined };
    stream.stop = this.live.subscribe<StockPriceData>({
      query: STOCK_PRICE,
      variables: () => ({ symbol, after: stream.last?.sequence ?? null }),
      next: ({ stockPrice }) => {
        stream.last = stockPrice;
        for (const listener of stream.listeners) listener(stockPrice);
      },
      error: this.report,
    });
    this.streams.set(symbol, stream);
    return stream;
  }
}
