/**
 * A small progress display for the examples: on a terminal, one bar redrawn in
 * place with `\r` and fitted to `process.stdout.columns`; anywhere else (a
 * pipe, CI, a test), plain lines at every tenth of the way.
 */
import type { WriteStream } from "node:tty";

export interface ProgressCounts {
  settled: number;
  total: number;
  /** Short text after the bar, e.g. "98 delivered · 12 retries". */
  detail: string;
}

export interface Progress {
  /** Redraw (at most every 50 ms on a terminal) or print a line at each tenth. */
  update(counts: ProgressCounts): void;
  /** Print a line of text without tearing the bar. */
  log(line: string): void;
  /** Draw the final state and move to a fresh line. */
  done(counts: ProgressCounts): void;
}

export function createProgress(out: NodeJS.WriteStream = process.stdout): Progress {
  const tty = out.isTTY === true;
  let lastDraw = 0;
  let lastTenth = -1;
  let barShown = false;
  let latest: ProgressCounts | undefined;

  const render = (counts: ProgressCounts): string => {
    const columns = Math.max(40, (out as WriteStream).columns ?? 80);
    const ratio = counts.total === 0 ? 1 : counts.settled / counts.total;
    const tally = `${String(counts.settled).padStart(String(counts.total).length)}/${counts.total}`;
    const tail = ` ${tally}  ${counts.detail}`;
    const width = Math.max(10, Math.min(40, columns - tail.length - 3));
    const filled = Math.round(ratio * width);
    const line = `[${"█".repeat(filled)}${"░".repeat(width - filled)}]${tail}`;
    return line.length >= columns ? line.slice(0, columns - 1) : line;
  };

  const draw = (counts: ProgressCounts): void => {
    out.write(`\r\x1b[2K${render(counts)}`);
    barShown = true;
    lastDraw = Date.now();
  };

  return {
    update(counts) {
      latest = counts;
      if (tty) {
        if (Date.now() - lastDraw >= 50 || counts.settled === counts.total) draw(counts);
        return;
      }
      const tenth = counts.total === 0 ? 10 : Math.floor((counts.settled / counts.total) * 10);
      if (tenth > lastTenth && tenth < 10) {
        lastTenth = tenth;
        out.write(`  progress ${counts.settled}/${counts.total}  ${counts.detail}\n`);
      }
    },
    log(line) {
      if (tty && barShown) {
        out.write(`\r\x1b[2K${line}\n`);
        if (latest !== undefined) draw(latest);
      } else {
        out.write(`${line}\n`);
      }
    },
    done(counts) {
      if (tty) {
        draw(counts);
        out.write("\n");
        barShown = false;
      } else {
        out.write(`  progress ${counts.settled}/${counts.total}  ${counts.detail}\n`);
      }
    },
  };
}
