/** The UTC default of every TIMESTAMP column (migrations/1764000000400-schema-contract.ts). */
export const UTC_DEFAULT = () => `timezone('UTC', now())`;
