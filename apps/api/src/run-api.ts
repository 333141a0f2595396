import { ConfigError, createLogger } from '@classroom/db-core'
import { loadApiConfig } from './config.js'
import { startApi } from './server.js'
import type { Tracing } from './tracing.js'

/**
 * `pnpm start` after tracing is set up: validate everything, start, and shut down cleanly on
 * SIGTERM/SIGINT, flushing `tracing`'s last spans once the api has closed.
 */
export async function runApi(tracing: Tracing | undefined): Promise<void> {
  let config: ReturnType<typeof loadApiConfig>
  try {
    config = loadApiConfig(process.env)
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    process.stderr.write(`${error.message}\n`)
    process.exit(1)
  }

  const logger = createLogger({
    level: config.log.level,
    format: config.log.format,
    defaultMeta: { service: 'classroom-api' },
  })
  const flushTraces = async () => {
    await tracing?.shutdown().catch((error: unknown) => {
      logger.warn('could not flush the last traces', {
        error: error instanceof Error ? error.message : String(error),
      })
    })
  }

  process.on('unhandledRejection', (reason) => {
    logger.error('unhandled promise rejection; exiting', {
      error: reason instanceof Error ? reason.stack : String(reason),
    })
    process.exit(1)
  })

  try {
    const api = await startApi(config, logger)
    let stopping = false
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        logger.warn('second signal: exiting at once', { signal })
        process.exit(1)
      }
      stopping = true
      logger.info('shutting down: finishing in-flight requests', { signal })
      api
        .close()
        .then(async (inTime) => {
          await flushTraces()
          logger.info('shut down', { inTime })
          process.exitCode = inTime ? 0 : 1
        })
        .catch((error: unknown) => {
          logger.error('shutdown failed', { error: error instanceof Error ? error.stack : String(error) })
          process.exit(1)
        })
    }
    process.on('SIGTERM', onSignal)
    process.on('SIGINT', onSignal)
  } catch (error) {
    // One plain sentence (the errors say what is wrong and what to do); the stack is for debugging.
    const reason = error instanceof Error ? error.message : String(error)
    logger.error(`api failed to start: ${reason.replace(/\s*\n\s*/g, ' ')}`, {
      error: error instanceof Error ? error.name : typeof error,
    })
    logger.debug('the failed start, where it failed', {
      stack: error instanceof Error ? error.stack : String(error),
    })
    await flushTraces()
    process.exitCode = 1
  }
}
