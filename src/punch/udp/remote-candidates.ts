import { candidateKey, type Candidate } from '../candidates.js';

/**
 * The peer's endpoints known so far: from the broker at the start, and learnt late through
 * signaling. `public` holds every srflx and predicted candidate; `hosts` the host candidates
 * that are not also public (a peer without a NAT advertises its address as both).
 */
export class RemoteCandidates {
  readonly public: Candidate[];
  readonly hosts: Candidate[];
  readonly #hostAddresses: Set<string>;

  constructor(candidates: readonly Candidate[]) {
    this.public = candidates.filter((c) => c.kind !== 'host');
    const publicKeys = new Set(this.public.map(candidateKey));
    this.hosts = candidates.filter((c) => c.kind === 'host' && !publicKeys.has(candidateKey(c)));
    this.#hostAddresses = new Set(this.hosts.map((c) => c.address));
  }

  /** Records a host or srflx candidate; false when it is already known. */
  add(candidate: Candidate): boolean {
    const key = candidateKey(candidate);
    if ([...this.hosts, ...this.public].some((known) => candidateKey(known) === key)) return false;
    if (candidate.kind === 'host') {
      this.hosts.push(candidate);
      this.#hostAddresses.add(candidate.address);
    } else {
      this.public.push(candidate);
    }
    return true;
  }

  isHostAddress(address: string): boolean {
    return this.#hostAddresses.has(address);
  }

  isPublicAddress(address: string): boolean {
    return this.public.some((candidate) => candidate.address === address);
  }

  /** The peer's public address as a STUN server saw it, once known. */
  srflxAddress(): string | undefined {
    return this.public.find((c) => c.kind === 'srflx')?.address;
  }

  /**
   * Whether the peer is behind our NAT: one of our srflx addresses is one of its. Without srflx
   * candidates of ours, a peer that advertises host candidates is taken for a neighbour.
   */
  behindSameNatAs(local: readonly Candidate[]): boolean {
    const localPublic = new Set(local.filter((c) => c.kind === 'srflx').map((c) => c.address));
    if (localPublic.size === 0) return this.hosts.length > 0;
    return this.public.some((c) => c.kind === 'srflx' && localPublic.has(c.address));
  }
}
