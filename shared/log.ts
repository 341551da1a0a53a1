/** The logger every component receives (house rule 9). Implemented in main/log.ts. */
export interface Logger {
  (formatter: string, ...args: unknown[]): void
  error: (formatter: string, ...args: unknown[]) => void
  trace: (formatter: string, ...args: unknown[]) => void
  enabled: boolean
  /** A child logger: `log.child('objects')` logs as `fieldsync:store:objects`. */
  child: (name: string) => Logger
}

/** A logger that drops everything: handy in tests. */
export function silentLogger(): Logger {
  const l = Object.assign(() => {}, {
    error: () => {},
    trace: () => {},
    enabled: false,
    child: () => l,
  }) as Logger
  return l
}
