/** Run `fn` with one environment variable set, restoring it afterwards. */
export async function withEnv<T>(name: string, value: string, fn: () => Promise<T>): Promise<T> {
  const old = process.env[name]
  process.env[name] = value
  try {
    return await fn()
  } finally {
    if (old === undefined) delete process.env[name]
    else process.env[name] = old
  }
}
