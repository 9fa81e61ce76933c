const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether `s` is a UUID (any version, either case): ids given by clients are checked before PostgreSQL sees them. */
export const isUuid = (s: string) => UUID.test(s);

/** Stands in for an id that cannot exist (not a uuid): the lookup then simply finds nothing. */
export const NO_ID = '00000000-0000-0000-0000-000000000000';
