/** A Table column; `priority: 1` columns only show with `-o wide`. */
export interface Column {
  readonly name: string;
  readonly type: string;
  readonly format: string;
  readonly description: string;
  readonly priority: number;
}

export function col(name: string, description: string, priority = 0, type = 'string', format = ''): Column {
  return { name, type, format, description, priority };
}

export const nameColumn = col('Name', 'The name of the object, unique within its namespace.', 0, 'string', 'name');
export const ageColumn = col('Age', 'How long ago the object was created.', 0, 'string', '');

/** How a kind prints as a server-side Table row; `now` is injected so rows are testable. */
export interface TablePrinter<T = any> {
  readonly columns: readonly Column[];
  row(obj: T, now: number): unknown[];
  /** Row conditions (upstream marks finished pods "Completed"). */
  conditions?(obj: T): { type: string; status: string; reason?: string; message?: string }[] | undefined;
}
