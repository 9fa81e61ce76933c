import { pino } from 'pino';
import { config } from '../config/index.js';

/**
 * Structured logs. Secrets never reach them: API keys, provider keys, webhook secrets and JWTs are
 * redacted wherever they appear under these paths.
 */
export const logger = pino({
  level: config.logLevel,
  base: { pid: process.pid },
  redact: {
    paths: [
      'apiKey',
      'apikey',
      'key',
      'secret',
      'token',
      'authorization',
      '*.apiKey',
      '*.apikey',
      '*.authorization',
      '*.Authorization',
      '*.secret',
      '*.token',
      'headers.authorization',
      'headers.apikey',
      'req.headers.authorization',
      'req.headers.apikey',
    ],
    censor: '[redacted]',
  },
});

export type Logger = typeof logger;
