export const DEV_ACCOUNT: string;

export interface Azurite {
  readonly connectionString: string;
  stop(): Promise<void>;
}

export function startAzurite(): Promise<Azurite>;
