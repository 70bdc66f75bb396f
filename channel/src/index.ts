export * from './catch-up';
export * from './fanout';
export * from './rate-limit';
export * from './session/admission';
export * from './session/coalesce';
export * from './session/lifecycle';
export * from './subscribers';
