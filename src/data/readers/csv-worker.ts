/** The worker thread that parses a CSV file for the reader (csv-thread.ts). */
import { parentPort, workerData } from 'node:worker_threads';
import { type CsvWorkerData, serveCsvRows } from './csv-serve.js';

if (parentPort !== null) await serveCsvRows(parentPort, workerData as CsvWorkerData);
