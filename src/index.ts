export * from './errors.js';
export { createLogger, silentLogger, type Logger, type LoggerOptions } from './observe/logger.js';
export { Counters } from './observe/counters.js';
export * from './codec/index.js';
export * from './broker/index.js';
