// A FIFO concurrency limit: at most `n` of the functions given to it run at once, in the order
// they were given. The full path chains installs, layer builds and uploads through three of these,
// so each stage starts on a package group as soon as the stage before has finished it.
export type Limit = <T>(task: () => Promise<T>) => Promise<T>

export function limit(n: number): Limit {
  let running = 0
  const waiting: (() => void)[] = []
  const next = () => {
    if (running >= n) return
    const start = waiting.shift()
    if (start) {
      running++
      start()
    }
  }
  return <T>(task: () => Promise<T>) =>
    new Promise<T>((resolve, reject) => {
      waiting.push(() => {
        task()
          .then(resolve, reject)
          .finally(() => {
            running--
            next()
          })
      })
      next()
    })
}

/** Mark a promise as handled (its failure is reported where it is awaited later), and return it. */
export function handled<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined)
  return p
}
