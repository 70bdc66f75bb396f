import { z } from 'zod';

/** Session, project and build ids: client-made UUIDs or similar URL-safe strings. */
export const idParam = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,100}$/, 'ids are 1–100 characters of A–Z a–z 0–9 _ -');
