/** The shape every benchmark reports, and the table the runner prints. */

/** One line of the table. */
export interface Row {
  /** Figure number and sub-letter, e.g. "1" or "7b". */
  id: string;
  /** What is measured. */
  figure: string;
  /** Unit of the client and baseline columns. */
  unit: string;
  client: number | string | null;
  baseline: number | string | null;
  /** client / baseline, when that means something. */
  ratio?: number | null;
  /** The goal, in words, when this row carries one. */
  goal?: string;
  /** Whether the goal is met. */
  met?: boolean;
  /**
   * The goal is judged for reference only: a noise figure held to another
   * row's goal (the baseline against itself). Shown in brackets, never
   * counted as a missed goal.
   */
  reference?: boolean;
}

/** What a benchmark returns. */
export interface BenchOutcome {
  rows: Row[];
  /** Raw figures (every round), for the JSON file. */
  details: Record<string, unknown>;
}

/** A benchmark module. */
export interface Benchmark {
  /** Short name, used on the command line (`--only`). */
  name: string;
  run(context: BenchContext): Promise<BenchOutcome>;
}

/** What a benchmark is told. */
export interface BenchContext {
  quick: boolean;
  /** Set when a benchmark runs one of its arms in a process of its own. */
  arm?: string | undefined;
}

/** Format a number for the table. */
export function fmt(value: number | string | null | undefined, digits = 0): string {
  if (value === null || value === undefined) return "–";
  if (typeof value === "string") return value;
  if (!Number.isFinite(value)) return String(value);
  return value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** Digits worth showing for a value of this size. */
export function autoDigits(value: number): number {
  const abs = Math.abs(value);
  if (abs >= 100) return 0;
  if (abs >= 10) return 1;
  return 2;
}

function cell(value: number | string | null | undefined): string {
  if (typeof value !== "number") return fmt(value);
  return fmt(value, Number.isInteger(value) ? 0 : autoDigits(value));
}

function metCell(row: Row): string {
  if (row.met === undefined) return "";
  if (row.reference === true) return row.met ? "(yes)" : "(no)";
  return row.met ? "yes" : "NO";
}

/** Render rows as a Markdown table (also readable in a terminal). */
export function renderTable(rows: readonly Row[]): string {
  const header = ["#", "figure", "unit", "WriteClient", "baseline", "ratio", "goal", "met"];
  const lines = rows.map((row) => [
    row.id,
    row.figure,
    row.unit,
    cell(row.client),
    cell(row.baseline),
    row.ratio === undefined || row.ratio === null ? "–" : fmt(row.ratio, 2),
    row.goal ?? "",
    metCell(row),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const numeric = new Set([3, 4, 5]);
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (numeric.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(" | ")} |`;
  const rule = `|${widths.map((w, i) => (numeric.has(i) ? `${"-".repeat(w + 1)}:` : "-".repeat(w + 2))).join("|")}|`;
  return [line(header), rule, ...lines.map(line)].join("\n");
}
