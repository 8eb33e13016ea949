import type { BrokerTlsOptions, BrokerTlsServerOptions } from '../broker/index.js';
import { InvalidArgumentError } from '../errors.js';
import { readPemFile } from './pem-file.js';

/** `ntcp server --broker-tls-cert FILE --broker-tls-key FILE` (or `server.brokerTls`): both or neither. */
export function brokerTlsServerOption(files: { brokerTlsCert?: string; brokerTlsKey?: string }): { tls?: BrokerTlsServerOptions } {
  const { brokerTlsCert: cert, brokerTlsKey: key } = files;
  if (cert === undefined && key === undefined) return {};
  if (cert === undefined || key === undefined) throw new InvalidArgumentError('--broker-tls-cert and --broker-tls-key go together');
  return { tls: { cert: readPemFile(cert, '--broker-tls-cert'), key: readPemFile(key, '--broker-tls-key') } };
}

/** `ntcp listen` / `connect` `--broker-tls [--broker-ca FILE]` (or `peer.brokerTls`, `peer.brokerCa`). */
export function brokerTlsClientOption(flags: { brokerTls?: boolean; brokerCa?: string }): { tls?: true | BrokerTlsOptions } {
  if (!flags.brokerTls) {
    if (flags.brokerCa !== undefined) throw new InvalidArgumentError('--broker-ca needs --broker-tls');
    return {};
  }
  return { tls: flags.brokerCa === undefined ? true : { ca: readPemFile(flags.brokerCa, '--broker-ca') } };
}
